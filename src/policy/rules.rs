//! Module patterns (GOPRIVATE/GONOSUMDB syntax) and platform patterns.
//!
//! A pattern list is comma-separated globs; a glob matches a module path when
//! it matches the path's leading elements (as many as the glob has), with
//! Go's `path.Match` per element: `*` never crosses `/`. Matching is
//! [`crate::xmod::module::match_prefix_patterns`], the go command's own function,
//! so `corp.example.com` matches `corp.example.com/x/y` but not
//! `corp.example.com.evil.org`.
//!
//! [`Glob::covers`] and [`Glob::disjoint`] answer "certainly" questions for
//! the loader's reachability checks; they err on the side of "not sure".

use crate::xmod::module::{self, path_match};

/// Characters with a meaning in `path.Match` patterns.
fn is_literal(elem: &str) -> bool {
    !elem.contains(['*', '?', '[', '\\'])
}

/// One glob of a pattern list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Glob {
    /// As written (trailing `/` removed).
    pub(crate) text: String,
    elems: Vec<String>,
}

impl Glob {
    /// Validates one glob. The error says why it is malformed or why it can
    /// never match a module path.
    pub(crate) fn parse(raw: &str) -> Result<Glob, String> {
        let text = raw.strip_suffix('/').unwrap_or(raw);
        let q = module::quote(raw);
        if text.is_empty() {
            return Err("empty module pattern".into());
        }
        let elems: Vec<String> = text.split('/').map(str::to_owned).collect();
        for e in &elems {
            if e.is_empty() {
                return Err(format!("bad module pattern {q}: empty path element"));
            }
            // path_match against "" scans the whole element for syntax errors
            // unless the element matches "" (only stars do, and they are valid).
            if path_match(e, "").is_err() {
                return Err(format!("bad module pattern {q}: syntax error in pattern"));
            }
        }
        // Literal parts must be spellable in a module path, or the glob can
        // never match anything goward serves.
        let never = |why: String| {
            Err(format!(
                "module pattern {q} can never match a module path: {why}"
            ))
        };
        for e in elems.iter().filter(|e| is_literal(e)) {
            if let Err(module::ModuleError::InvalidPath { reason, .. }) =
                module::check_import_path(e)
            {
                return never(reason.to_string());
            }
        }
        let first = &elems[0];
        if is_literal(first) {
            if !first.contains('.') {
                return never("missing dot in first path element".into());
            }
            if let Some(c) = first
                .chars()
                .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.' || *c == '-'))
            {
                return never(format!(
                    "invalid char {} in first path element",
                    module::quote_rune(c)
                ));
            }
        }
        Ok(Glob {
            text: text.to_owned(),
            elems,
        })
    }

    /// Go's GOPRIVATE matching.
    pub(crate) fn matches(&self, path: &str) -> bool {
        module::match_prefix_patterns(&self.text, path)
    }

    /// Certainly: every path `other` matches, `self` matches.
    pub(crate) fn covers(&self, other: &Glob) -> bool {
        self.elems.len() <= other.elems.len()
            && self
                .elems
                .iter()
                .zip(&other.elems)
                .all(|(a, b)| elem_covers(a, b))
    }

    /// Certainly: no path is matched by both.
    pub(crate) fn disjoint(&self, other: &Glob) -> bool {
        self.elems
            .iter()
            .zip(&other.elems)
            .any(|(a, b)| elem_disjoint(a, b))
    }
}

fn elem_covers(a: &str, b: &str) -> bool {
    a == b || a.bytes().all(|c| c == b'*') || (is_literal(b) && path_match(a, b) == Ok(true))
}

fn elem_disjoint(a: &str, b: &str) -> bool {
    match (is_literal(a), is_literal(b)) {
        (true, true) => a != b,
        (false, true) => path_match(a, b) == Ok(false),
        (true, false) => path_match(b, a) == Ok(false),
        (false, false) => false,
    }
}

/// A validated pattern list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Patterns {
    pub(crate) globs: Vec<Glob>,
}

impl Patterns {
    /// The first glob that matches `path`.
    pub(crate) fn matching(&self, path: &str) -> Option<&Glob> {
        self.globs.iter().find(|g| g.matches(path))
    }

    pub(crate) fn matches(&self, path: &str) -> bool {
        self.matching(path).is_some()
    }

    /// Certainly: every path `other` matches, `self` matches.
    pub(crate) fn covers(&self, other: &Patterns) -> bool {
        other
            .globs
            .iter()
            .all(|b| self.globs.iter().any(|a| a.covers(b)))
    }

    /// Certainly: no path is matched by both.
    pub(crate) fn disjoint(&self, other: &Patterns) -> bool {
        self.globs
            .iter()
            .all(|a| other.globs.iter().all(|b| a.disjoint(b)))
    }

    /// `a, b, c` for messages.
    pub(crate) fn text(&self) -> String {
        self.globs
            .iter()
            .map(|g| g.text.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// GOOS values (`go tool dist list`).
pub(crate) const KNOWN_OS: &[&str] = &[
    "aix",
    "android",
    "darwin",
    "dragonfly",
    "freebsd",
    "illumos",
    "ios",
    "js",
    "linux",
    "netbsd",
    "openbsd",
    "plan9",
    "solaris",
    "wasip1",
    "windows",
];

/// GOARCH values (`go tool dist list`).
pub(crate) const KNOWN_ARCH: &[&str] = &[
    "386", "amd64", "arm", "arm64", "loong64", "mips", "mips64", "mips64le", "mipsle", "ppc64",
    "ppc64le", "riscv64", "s390x", "wasm",
];

/// An `os/arch` pattern of the toolchain rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PlatformGlob {
    pub(crate) text: String,
}

impl PlatformGlob {
    pub(crate) fn parse(raw: &str) -> Result<PlatformGlob, String> {
        let q = module::quote(raw);
        let Some((os, arch)) = raw.split_once('/') else {
            return Err(format!(
                "bad platform {q}: expected \"os/arch\", e.g. \"linux/amd64\""
            ));
        };
        if os.is_empty() || arch.is_empty() || arch.contains('/') {
            return Err(format!(
                "bad platform {q}: expected \"os/arch\", e.g. \"linux/amd64\""
            ));
        }
        for (part, known, what) in [(os, KNOWN_OS, "GOOS"), (arch, KNOWN_ARCH, "GOARCH")] {
            if path_match(part, "").is_err() {
                return Err(format!("bad platform {q}: syntax error in pattern"));
            }
            if !known.iter().any(|k| path_match(part, k) == Ok(true)) {
                let hint = if part == "armv6l" {
                    " (toolchains call it \"arm\")"
                } else {
                    ""
                };
                return Err(format!(
                    "platform {q} can never match: {} is not a known {what}{hint}",
                    module::quote(part)
                ));
            }
        }
        Ok(PlatformGlob {
            text: raw.to_owned(),
        })
    }

    pub(crate) fn matches(&self, os: &str, arch: &str) -> bool {
        path_match(&self.text, &format!("{os}/{arch}")) == Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(s: &str) -> Glob {
        Glob::parse(s).unwrap()
    }

    #[test]
    fn go_prefix_semantics() {
        let table: &[(&str, &str, bool)] = &[
            ("corp.example.com", "corp.example.com", true),
            ("corp.example.com", "corp.example.com/x/y", true),
            ("corp.example.com", "corp.example.com.evil.org/x", false),
            ("corp.example.com/", "corp.example.com/x", true),
            ("*.corp.example.com", "git.corp.example.com/x", true),
            ("*.corp.example.com", "corp.example.com/x", false),
            ("github.com/corp/*", "github.com/corp/lib", true),
            ("github.com/corp/*", "github.com/corp/lib/v2", true),
            ("github.com/corp/*", "github.com/corp", false),
            ("github.com/corp/*", "github.com/corporate/lib", false),
            ("github.com/*/internal", "github.com/a/internal/x", true),
            ("github.com/*/internal", "github.com/a/b/internal", false),
            ("gopkg.in/yaml.v?", "gopkg.in/yaml.v2", true),
            ("github.com/[a-c]*", "github.com/bob/x", true),
            ("github.com/[a-c]*", "github.com/dan/x", false),
            // Case matters, as in Go.
            ("github.com/sirupsen", "github.com/Sirupsen/logrus", false),
        ];
        for &(pat, path, want) in table {
            assert_eq!(g(pat).matches(path), want, "{pat} vs {path}");
        }
    }

    #[test]
    fn bad_patterns() {
        let e = |s: &str| Glob::parse(s).unwrap_err();
        assert_eq!(
            e("github.com/[abc"),
            r#"bad module pattern "github.com/[abc": syntax error in pattern"#
        );
        assert_eq!(
            e("github.com/a\\"),
            r#"bad module pattern "github.com/a\\": syntax error in pattern"#
        );
        assert_eq!(
            e("github.com//x"),
            r#"bad module pattern "github.com//x": empty path element"#
        );
        assert_eq!(e(""), "empty module pattern");
        assert_eq!(
            e("github"),
            r#"module pattern "github" can never match a module path: missing dot in first path element"#
        );
        assert_eq!(
            e("GitHub.com/x"),
            r#"module pattern "GitHub.com/x" can never match a module path: invalid char 'G' in first path element"#
        );
        assert_eq!(
            e("github.com/a b"),
            r#"module pattern "github.com/a b" can never match a module path: invalid char ' '"#
        );
        assert_eq!(
            e("example.com/../x"),
            r#"module pattern "example.com/../x" can never match a module path: invalid path element "..""#
        );
        // Globs in the first element are not checked for dots.
        assert!(Glob::parse("*").is_ok());
        assert!(Glob::parse("*.corp").is_ok());
    }

    #[test]
    fn cover_and_disjoint() {
        assert!(g("github.com").covers(&g("github.com/a/b")));
        assert!(g("github.com/*").covers(&g("github.com/a")));
        assert!(g("github.com/a*").covers(&g("github.com/abc/d")));
        assert!(g("*").covers(&g("github.com")));
        assert!(!g("github.com/a").covers(&g("github.com")));
        assert!(!g("github.com/a*").covers(&g("github.com/*")));
        assert!(g("github.com/a").disjoint(&g("github.com/b/c")));
        assert!(g("github.com/a*").disjoint(&g("github.com/bc")));
        assert!(g("gitlab.com").disjoint(&g("github.com/*")));
        assert!(!g("github.com").disjoint(&g("github.com/x")));
        assert!(!g("github.com/a*").disjoint(&g("github.com/*b")));
    }

    #[test]
    fn platforms() {
        let p = PlatformGlob::parse("linux/*").unwrap();
        assert!(p.matches("linux", "amd64") && !p.matches("darwin", "arm64"));
        assert_eq!(
            PlatformGlob::parse("linux").unwrap_err(),
            r#"bad platform "linux": expected "os/arch", e.g. "linux/amd64""#
        );
        assert_eq!(
            PlatformGlob::parse("linux/armv6l").unwrap_err(),
            r#"platform "linux/armv6l" can never match: "armv6l" is not a known GOARCH (toolchains call it "arm")"#
        );
        assert_eq!(
            PlatformGlob::parse("macos/arm64").unwrap_err(),
            r#"platform "macos/arm64" can never match: "macos" is not a known GOOS"#
        );
        assert_eq!(
            PlatformGlob::parse("linux/[").unwrap_err(),
            r#"bad platform "linux/[": syntax error in pattern"#
        );
    }
}
