//! `retract` directives of a go.mod (for `deny_retracted`).
//!
//! The go command treats a version as retracted when the go.mod of the
//! module's latest version retracts it (`retract v1.0.1`, `retract [v1.0.0,
//! v1.0.5]`, or a `retract ( … )` block), with the comment on or just above
//! the line as the rationale. This is a pure parser of that text: fetching
//! the latest go.mod (through goward's verified path) is the caller's job.

use crate::semver;

/// One retracted interval, inclusive at both ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retraction {
    /// Lowest retracted version.
    pub low: String,
    /// Highest retracted version (equal to `low` for a single version).
    pub high: String,
    /// The comment that explains it (may be empty).
    pub rationale: String,
}

impl Retraction {
    /// Whether `version` lies in the interval (semver order, build metadata
    /// ignored).
    pub fn contains(&self, version: &str) -> bool {
        semver::is_valid(version)
            && semver::compare(&self.low, version).is_le()
            && semver::compare(version, &self.high).is_le()
    }
}

/// The first retraction that covers `version`.
pub fn retracted<'a>(list: &'a [Retraction], version: &str) -> Option<&'a Retraction> {
    list.iter().find(|r| r.contains(version))
}

/// Splits a line into code and comment (`//` outside quotes).
fn split_comment(line: &str) -> (&str, Option<&str>) {
    let b = line.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < b.len() {
        match (quote, b[i]) {
            (Some(b'"'), b'\\') => i += 1,
            (Some(q), c) if c == q => quote = None,
            (None, b'"' | b'`') => quote = Some(b[i]),
            (None, b'/') if b.get(i + 1) == Some(&b'/') => {
                return (&line[..i], Some(line[i + 2..].trim()));
            }
            _ => {}
        }
        i += 1;
    }
    (line, None)
}

fn unquote(tok: &str) -> &str {
    tok.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .or_else(|| tok.strip_prefix('`').and_then(|t| t.strip_suffix('`')))
        .unwrap_or(tok)
}

/// Parses `v1.0.0` or `[v1.0.0, v1.2.0]`.
fn parse_interval(code: &str, line: usize) -> Result<(String, String), String> {
    let code = code.trim();
    let (low, high) = if let Some(inner) = code.strip_prefix('[') {
        let inner = inner
            .strip_suffix(']')
            .ok_or_else(|| format!("go.mod:{line}: malformed retract interval {code:?}"))?;
        let (l, h) = inner
            .split_once(',')
            .ok_or_else(|| format!("go.mod:{line}: malformed retract interval {code:?}"))?;
        (unquote(l.trim()), unquote(h.trim()))
    } else {
        let v = unquote(code);
        (v, v)
    };
    for v in [low, high] {
        if !semver::is_valid(v) || semver::canonical(v).as_deref() != Some(v) {
            return Err(format!(
                "go.mod:{line}: retract: {v:?} is not a canonical semantic version"
            ));
        }
    }
    if semver::compare(low, high).is_gt() {
        return Err(format!(
            "go.mod:{line}: retract: interval [{low}, {high}] is backwards"
        ));
    }
    Ok((low.to_owned(), high.to_owned()))
}

/// Every retraction in a go.mod, in file order.
pub fn retractions(go_mod: &str) -> Result<Vec<Retraction>, String> {
    let mut out = Vec::new();
    // Comment lines immediately above the current line.
    let mut pending: Vec<String> = Vec::new();
    // Inside `retract (`: the block's own comment; inside another block: skip.
    let mut block: Option<Option<String>> = None;
    let mut other_block = false;
    for (i, raw) in go_mod.lines().enumerate() {
        let n = i + 1;
        let (code, comment) = split_comment(raw);
        let code = code.trim();
        if code.is_empty() {
            match comment {
                Some(c) => pending.push(c.to_owned()),
                None => pending.clear(),
            }
            continue;
        }
        let before = std::mem::take(&mut pending);
        let own = comment
            .map(str::to_owned)
            .or_else(|| (!before.is_empty()).then(|| before.join("\n")));
        if other_block {
            other_block = code != ")";
            continue;
        }
        if let Some(block_comment) = &block {
            if code == ")" {
                block = None;
                continue;
            }
            let (low, high) = parse_interval(code, n)?;
            out.push(Retraction {
                low,
                high,
                rationale: own.or_else(|| block_comment.clone()).unwrap_or_default(),
            });
            continue;
        }
        let (verb, rest) = code
            .split_once(char::is_whitespace)
            .map_or((code, ""), |(v, r)| (v, r.trim()));
        if verb != "retract" {
            other_block = rest == "(";
            continue;
        }
        if rest == "(" {
            block = Some(own);
            continue;
        }
        let (low, high) = parse_interval(rest, n)?;
        out.push(Retraction {
            low,
            high,
            rationale: own.unwrap_or_default(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GO_MOD: &str = "module example.com/m

go 1.22

require (
\texample.com/retract v1.0.0 // retract ( not a directive
)

// Published by mistake.
retract v1.0.1

retract [v1.1.0, v1.1.5] // CVE-2024-0001

// Bad releases:
retract (
\tv1.2.0
\t\"v1.2.1\" // broken build
\t[v1.3.0, v1.3.2]
)
";

    #[test]
    fn parses_directives_and_rationales() {
        let r = retractions(GO_MOD).unwrap();
        let got: Vec<(&str, &str, &str)> = r
            .iter()
            .map(|r| (r.low.as_str(), r.high.as_str(), r.rationale.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("v1.0.1", "v1.0.1", "Published by mistake."),
                ("v1.1.0", "v1.1.5", "CVE-2024-0001"),
                ("v1.2.0", "v1.2.0", "Bad releases:"),
                ("v1.2.1", "v1.2.1", "broken build"),
                ("v1.3.0", "v1.3.2", "Bad releases:"),
            ]
        );
        for (v, want) in [
            ("v1.0.0", None),
            ("v1.0.1", Some("v1.0.1")),
            ("v1.1.0", Some("v1.1.0")),
            ("v1.1.3", Some("v1.1.0")),
            ("v1.1.5", Some("v1.1.0")),
            ("v1.1.6-pre", None),
            ("v1.3.1", Some("v1.3.0")),
            ("v1.3.3", None),
        ] {
            assert_eq!(retracted(&r, v).map(|r| r.low.as_str()), want, "{v}");
        }
    }

    #[test]
    fn malformed_retractions() {
        assert_eq!(
            retractions("module m\nretract [v1.0.0 v1.0.1]\n").unwrap_err(),
            "go.mod:2: malformed retract interval \"[v1.0.0 v1.0.1]\""
        );
        assert_eq!(
            retractions("module m\nretract v1\n").unwrap_err(),
            "go.mod:2: retract: \"v1\" is not a canonical semantic version"
        );
        assert_eq!(
            retractions("module m\nretract [v1.2.0, v1.0.0]\n").unwrap_err(),
            "go.mod:2: retract: interval [v1.2.0, v1.0.0] is backwards"
        );
        assert_eq!(retractions("module m\n").unwrap(), []);
    }
}
