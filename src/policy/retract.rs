//! `retract` directives of a go.mod (for `deny_retracted`).
//!
//! The go command treats a version as retracted when the go.mod of the
//! module's latest version retracts it (`retract v1.0.1`, `retract [v1.0.0,
//! v1.0.5]`, or a `retract ( … )` block), with the comment on or just above
//! the line as the rationale. This is a pure parser of that text, plus the
//! choice of that latest version from an `@v/list` body when the upstream has
//! no `@latest` ([`latest_from_list`]): fetching (through goward's verified
//! path) is the caller's job.

use crate::xmod::module::{PseudoTime, is_pseudo_version, pseudo_version_time};
use crate::xmod::semver;

/// The version whose go.mod holds a module's retractions, chosen from an
/// `@v/list` body as the go command's `latest` query chooses it from a proxy
/// without `@latest` (modload `queryProxy`, modfetch/proxy.go `Versions` and
/// `latestFromList`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ListLatest {
    /// The highest tagged release, else the highest tagged pre-release.
    Version(String),
    /// Tagged `+incompatible` versions sit above the highest compatible one:
    /// the go command ignores them iff `compatible` has a go.mod of its own
    /// (not the `module path` line synthesized for a version without one).
    IfGoMod {
        /// The highest compatible tagged version, whose go.mod decides.
        compatible: String,
        /// The answer if it has a go.mod of its own.
        with_go_mod: String,
        /// The answer if its go.mod is synthesized.
        without: String,
    },
    /// No tagged version: the newest pseudo-version by time.
    Pseudo(String),
    /// Nothing usable in the list.
    None,
}

/// Chooses the latest version from an `@v/list` body (see [`ListLatest`]).
pub(crate) fn latest_from_list(list: &str) -> ListLatest {
    let mut tagged: Vec<String> = list
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|v| semver::is_valid(v) && !is_pseudo_version(v))
        .map(str::to_owned)
        .collect();
    semver::sort(&mut tagged);
    tagged.dedup();
    if tagged.is_empty() {
        return latest_pseudo(list).map_or(ListLatest::None, ListLatest::Pseudo);
    }
    let incompatible = |v: &String| v.ends_with("+incompatible");
    // Compatible versions sort below every `+incompatible` one (v0/v1 against
    // v2 and up), so the highest compatible is the last one before them.
    let compatible = tagged.iter().rev().find(|v| !incompatible(v)).cloned();
    let highest = |with_incompatible: bool| {
        let ok = |v: &&String| with_incompatible || !incompatible(v);
        tagged
            .iter()
            .rev()
            .filter(ok)
            .find(|v| semver::prerelease(v).is_empty())
            .or_else(|| tagged.iter().rev().find(ok))
            .cloned()
            .unwrap_or_default()
    };
    match compatible {
        Some(compatible) if tagged.iter().any(incompatible) => ListLatest::IfGoMod {
            compatible,
            with_go_mod: highest(false),
            without: highest(true),
        },
        _ => ListLatest::Version(highest(true)),
    }
}

/// The newest pseudo-version by the time the list gives for it, else its own
/// time stamp (proxy.go `latestFromList`; ties keep the first).
fn latest_pseudo(list: &str) -> Option<String> {
    let mut best: Option<(i64, &str)> = None;
    for line in list.lines() {
        let mut f = line.split_whitespace();
        let Some(v) = f.next().filter(|v| semver::is_valid(v)) else {
            continue;
        };
        let t = match f.next() {
            Some(t) => rfc3339_unix(t),
            None if is_pseudo_version(v) => pseudo_version_time(v).ok().map(|t| t.unix_seconds()),
            None => continue,
        };
        if let Some(t) = t
            && best.is_none_or(|(b, _)| b < t)
        {
            best = Some((t, v));
        }
    }
    best.map(|(_, v)| v.to_owned())
}

/// Seconds since the epoch of `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
fn rfc3339_unix(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    let shape = b.len() >= 20 && b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && b[13] == b':';
    if !shape || b[16] != b':' {
        return None;
    }
    let digits = [
        &t[0..4],
        &t[5..7],
        &t[8..10],
        &t[11..13],
        &t[14..16],
        &t[17..19],
    ]
    .concat();
    let secs = PseudoTime::parse(&digits)?.unix_seconds();
    let mut rest = &t[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        rest = &frac[n..];
    }
    let offset = match rest.as_bytes() {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let h: i64 = rest[1..3].parse().ok()?;
            let m: i64 = rest[4..6].parse().ok()?;
            let o = h * 3600 + m * 60;
            if *sign == b'+' { o } else { -o }
        }
        _ => return None,
    };
    Some(secs - offset)
}

/// One retracted interval, inclusive at both ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Retraction {
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
    pub(crate) fn contains(&self, version: &str) -> bool {
        semver::is_valid(version)
            && semver::compare(&self.low, version).is_le()
            && semver::compare(version, &self.high).is_le()
    }
}

/// The first retraction that covers `version`.
pub(crate) fn retracted<'a>(list: &'a [Retraction], version: &str) -> Option<&'a Retraction> {
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
pub(crate) fn retractions(go_mod: &str) -> Result<Vec<Retraction>, String> {
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
    fn latest_from_list_picks_what_the_go_command_picks() {
        use ListLatest::*;
        let v = |s: &str| Version(s.to_owned());
        for (list, want) in [
            // Highest release, in semver order, whatever the list order.
            ("v1.10.0\nv1.9.0\nv1.2.0-rc.1\n", v("v1.10.0")),
            // A higher pre-release does not beat a release.
            ("v1.0.0\nv1.1.0-rc.1\n", v("v1.0.0")),
            ("v1.1.0-rc.1\nv1.1.0-rc.2\n", v("v1.1.0-rc.2")),
            // Pseudo-versions count only when nothing is tagged.
            (
                "v1.0.0\nv1.0.1-0.20300101000000-abcdefabcdef\n",
                v("v1.0.0"),
            ),
            (
                "v0.0.0-20240101000000-aaaaaaaaaaaa\nv0.0.0-20230101000000-bbbbbbbbbbbb\n",
                Pseudo("v0.0.0-20240101000000-aaaaaaaaaaaa".into()),
            ),
            // The list's own time wins over the pseudo-version's.
            (
                "v0.0.0-20240101000000-aaaaaaaaaaaa 2020-01-01T00:00:00Z\n\
                 v0.0.0-20230101000000-bbbbbbbbbbbb 2021-01-01T01:00:00+01:00\n",
                Pseudo("v0.0.0-20230101000000-bbbbbbbbbbbb".into()),
            ),
            (
                "v2.0.0+incompatible\nv3.1.0+incompatible\n",
                v("v3.1.0+incompatible"),
            ),
            (
                "v1.5.0\nv1.6.0-pre\nv2.0.0+incompatible\n",
                IfGoMod {
                    compatible: "v1.6.0-pre".into(),
                    with_go_mod: "v1.5.0".into(),
                    without: "v2.0.0+incompatible".into(),
                },
            ),
            ("", None),
            ("<html>\nnot-a-version\n", None),
        ] {
            assert_eq!(latest_from_list(list), want, "{list:?}");
        }
        assert_eq!(rfc3339_unix("1970-01-01T00:00:01.5Z"), Some(1));
        assert_eq!(rfc3339_unix("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(rfc3339_unix("yesterday"), Option::None);
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
