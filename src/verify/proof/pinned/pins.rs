//! Pinned hashes: go.sum-format files (`module version h1:…` and
//! `module version/go.mod h1:…` lines).
//!
//! Parsing is strict, because a pin file is a reviewed security artifact:
//! every non-blank line must have exactly three fields, a valid module path,
//! a valid version for that path, and a canonical `h1:` hash. The same
//! artifact pinned twice with different hashes (in one file or across the
//! files of one pin set) is an error naming both places.

use std::collections::HashMap;
use std::sync::Arc;

use crate::artifact::{ArtifactKind, H1};
use crate::xmod::module;

/// Where a pin came from, for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PinSite {
    pub(crate) file: String,
    pub(crate) line: usize,
    pub(crate) col: usize,
}

impl std::fmt::Display for PinSite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// The pins of one module version.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct VersionPins {
    pub(crate) zip: Option<(H1, PinSite)>,
    pub(crate) module: Option<(H1, PinSite)>,
}

/// The pins of one file, or the union of the files of one rule.
#[derive(Clone, Debug, Default)]
pub(crate) struct PinSet {
    /// The files as written in the policy, for messages.
    pub(crate) files: Vec<String>,
    pins: HashMap<(String, String), VersionPins>,
}

impl PinSet {
    /// Parses one go.sum-format file. `name` is used in error positions.
    pub(crate) fn parse(name: &str, text: &str) -> Result<PinSet, Vec<(PinSite, String)>> {
        let mut set = PinSet {
            files: vec![name.to_owned()],
            pins: HashMap::new(),
        };
        let mut errors = Vec::new();
        // 1-based line numbers and character columns, for messages.
        for (line_no, line) in (1..).zip(text.lines()) {
            let site = |col: usize| PinSite {
                file: name.to_owned(),
                line: line_no,
                col,
            };
            // Fields with their 1-based character columns.
            let mut fields: Vec<(usize, &str)> = Vec::new();
            let mut start = None;
            for (col, (bi, ch)) in (1..).zip(line.char_indices()) {
                match (ch.is_whitespace(), start) {
                    (false, None) => start = Some((col, bi)),
                    (true, Some((c, b))) => {
                        fields.push((c, line.get(b..bi).unwrap_or_default()));
                        start = None;
                    }
                    _ => {}
                }
            }
            if let Some((c, b)) = start {
                fields.push((c, line.get(b..).unwrap_or_default()));
            }
            let [(pcol, path), (vcol, raw_version), (hcol, hash)] = fields[..] else {
                if let Some(&(col, _)) = fields.first() {
                    errors.push((
                        site(col),
                        format!(
                            "malformed go.sum line: want \"module version h1:hash\", found {} field{}",
                            fields.len(),
                            if fields.len() == 1 { "" } else { "s" }
                        ),
                    ));
                }
                continue;
            };
            let (version, kind) = match raw_version.strip_suffix("/go.mod") {
                Some(v) => (v, ArtifactKind::Mod),
                None => (raw_version, ArtifactKind::Zip),
            };
            if let Err(e) = module::check(path, version) {
                let col = if module::check_path(path).is_err() {
                    pcol
                } else {
                    vcol
                };
                errors.push((site(col), e.to_string()));
                continue;
            }
            let h1 = match H1::parse(hash) {
                Ok(h) => h,
                Err(_) => {
                    errors.push((
                        site(hcol),
                        format!(
                            "{} is not an h1: hash (\"h1:\" and the base64 of a SHA-256 digest)",
                            module::quote(hash)
                        ),
                    ));
                    continue;
                }
            };
            if let Err(e) = set.insert(path, version, kind, h1, site(hcol)) {
                errors.push(e);
            }
        }
        if errors.is_empty() {
            Ok(set)
        } else {
            Err(errors)
        }
    }

    fn insert(
        &mut self,
        path: &str,
        version: &str,
        kind: ArtifactKind,
        h1: H1,
        site: PinSite,
    ) -> Result<(), (PinSite, String)> {
        let entry = self
            .pins
            .entry((path.to_owned(), version.to_owned()))
            .or_default();
        let slot = match kind {
            ArtifactKind::Zip => &mut entry.zip,
            ArtifactKind::Mod => &mut entry.module,
        };
        match slot {
            Some((old, old_site)) if *old != h1 => Err((
                site,
                format!(
                    "conflicting pins for {path}@{version} ({}): {h1} here, {old} at {old_site}",
                    kind.as_str()
                ),
            )),
            Some(_) => Ok(()),
            None => {
                *slot = Some((h1, site));
                Ok(())
            }
        }
    }

    /// The union of several files' pins; conflicts between files are errors.
    pub(crate) fn union(sets: &[Arc<PinSet>]) -> Result<PinSet, Vec<(PinSite, String)>> {
        let mut out = PinSet::default();
        let mut errors = Vec::new();
        for s in sets {
            out.files.extend(s.files.iter().cloned());
            // Deterministic order for error messages.
            let mut entries: Vec<_> = s.pins.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            for ((path, version), vp) in entries {
                for (kind, slot) in [
                    (ArtifactKind::Zip, &vp.zip),
                    (ArtifactKind::Mod, &vp.module),
                ] {
                    if let Some((h1, site)) = slot
                        && let Err(e) = out.insert(path, version, kind, h1.clone(), site.clone())
                    {
                        errors.push(e);
                    }
                }
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    /// The pinned hash of one artifact.
    pub(crate) fn get(&self, path: &str, version: &str, kind: ArtifactKind) -> Option<&H1> {
        let vp = self.pins.get(&(path.to_owned(), version.to_owned()))?;
        match kind {
            ArtifactKind::Zip => vp.zip.as_ref().map(|p| &p.0),
            ArtifactKind::Mod => vp.module.as_ref().map(|p| &p.0),
        }
    }

    /// Whether any hash of `path@version` is pinned.
    pub(crate) fn has_version(&self, path: &str, version: &str) -> bool {
        self.pins
            .contains_key(&(path.to_owned(), version.to_owned()))
    }

    /// How many module versions are pinned.
    pub(crate) fn len(&self) -> usize {
        self.pins.len()
    }

    /// `a.sum, b.sum` for messages.
    pub(crate) fn files_text(&self) -> String {
        self.files.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H_A: &str = "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    const H_B: &str = "h1:OlYlrp9HL+p2K3FbP7Hq9YBhNfdhAt7HdxRyOLR8ChM=";

    #[test]
    fn parses_go_sum_lines() {
        let text = format!(
            "example.com/a v1.0.0 {H_A}\nexample.com/a v1.0.0/go.mod {H_B}\n\n  example.com/b/v2 v2.1.0/go.mod\t{H_A}\nexample.com/c v2.0.0+incompatible {H_A}\n"
        );
        let s = PinSet::parse("x.sum", &text).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(
            s.get("example.com/a", "v1.0.0", ArtifactKind::Zip)
                .map(H1::as_str),
            Some(H_A)
        );
        assert_eq!(
            s.get("example.com/a", "v1.0.0", ArtifactKind::Mod)
                .map(H1::as_str),
            Some(H_B)
        );
        assert_eq!(s.get("example.com/b/v2", "v2.1.0", ArtifactKind::Zip), None);
        assert!(s.has_version("example.com/b/v2", "v2.1.0"));
        assert!(s.has_version("example.com/c", "v2.0.0+incompatible"));
    }

    #[test]
    fn errors_name_line_and_column() {
        let text = format!(
            "example.com/a v1.0.0\nexample.com/a v2.0.0 {H_A}\nexample.com/a v1.0.0 h1:nope\nexample.com/a v1.1.0 {H_A}\nexample.com/a   v1.1.0 {H_B}\nnodot/x v1.0.0 {H_A}\n"
        );
        let errs: Vec<String> = PinSet::parse("x.sum", &text)
            .unwrap_err()
            .into_iter()
            .map(|(s, m)| format!("{s}: {m}"))
            .collect();
        assert_eq!(
            errs,
            [
                r#"x.sum:1:1: malformed go.sum line: want "module version h1:hash", found 2 fields"#.to_owned(),
                "x.sum:2:15: example.com/a@v2.0.0: invalid version: should be v0 or v1, not v2".to_owned(),
                r#"x.sum:3:22: "h1:nope" is not an h1: hash ("h1:" and the base64 of a SHA-256 digest)"#.to_owned(),
                format!("x.sum:5:24: conflicting pins for example.com/a@v1.1.0 (zip): {H_B} here, {H_A} at x.sum:4:22"),
                r#"x.sum:6:1: malformed module path "nodot/x": missing dot in first path element"#.to_owned(),
            ]
        );
    }

    #[test]
    fn union_detects_cross_file_conflicts() {
        let a = Arc::new(PinSet::parse("a.sum", &format!("example.com/a v1.0.0 {H_A}\n")).unwrap());
        let b = Arc::new(PinSet::parse("b.sum", &format!("example.com/a v1.0.0 {H_B}\n")).unwrap());
        let same =
            Arc::new(PinSet::parse("c.sum", &format!("example.com/a v1.0.0 {H_A}\n")).unwrap());
        assert!(PinSet::union(&[a.clone(), same]).is_ok());
        let e = PinSet::union(&[a, b]).unwrap_err();
        assert_eq!(
            format!("{}: {}", e[0].0, e[0].1),
            format!(
                "b.sum:1:22: conflicting pins for example.com/a@v1.0.0 (zip): {H_B} here, {H_A} at a.sum:1:22"
            )
        );
    }
}
