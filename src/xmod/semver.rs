//! Go's semantic versions, ported from golang.org/x/mod v0.43.0 `semver/semver.go`.
//!
//! Versions carry a leading `v` (`v1.2.3-pre+build`), and `vMAJOR` / `vMAJOR.MINOR`
//! (without prerelease or build) are shorthands for `vMAJOR.0.0` / `vMAJOR.MINOR.0`.
//! MAJOR, MINOR and PATCH are decimal integers without leading zeros (of any length:
//! they are compared as digit strings, never parsed into machine integers, so huge
//! numbers cannot overflow). PRERELEASE and BUILD are non-empty dot-separated
//! identifiers of `[0-9A-Za-z-]`; numeric prerelease identifiers have no leading zeros.
//!
//! The go command decides which version is "latest", and which versions are the
//! same, with exactly these rules, so the proxy must use them too: any difference
//! would let the proxy and its clients disagree about what a request means.

use std::borrow::Cow;
use std::cmp::Ordering;

/// The parsed form of a semantic version (semver.go `parsed`). All fields borrow
/// from the input, except the shorthand defaults, which are `'static`.
#[derive(Debug, Clone, Copy, Default)]
struct Parsed<'a> {
    major: &'a str,
    minor: &'a str,
    patch: &'a str,
    /// The suffix that expands a shorthand: `.0.0` for `vN`, `.0` for `vN.M`.
    short: &'a str,
    prerelease: &'a str,
    build: &'a str,
}

/// Reports whether `v` is a valid semantic version string (semver.go `IsValid`).
pub fn is_valid(v: &str) -> bool {
    parse(v).is_some()
}

/// The canonical form of `v`: missing `.MINOR`/`.PATCH` filled in, build metadata
/// dropped (semver.go `Canonical`). Two versions compare equal exactly when their
/// canonical forms are identical. `None` where Go returns `""` (invalid `v`).
pub fn canonical(v: &str) -> Option<String> {
    let p = parse(v)?;
    if !p.build.is_empty() {
        return Some(v[..v.len() - p.build.len()].to_string());
    }
    if !p.short.is_empty() {
        return Some(format!("{v}{}", p.short));
    }
    Some(v.to_string())
}

/// The major version prefix of `v`, e.g. `v2` for `v2.1.0` (semver.go `Major`).
pub fn major(v: &str) -> Option<&str> {
    let p = parse(v)?;
    Some(&v[..1 + p.major.len()])
}

/// The `major.minor` prefix of `v`, e.g. `v2.1` for `v2.1.0` (semver.go `MajorMinor`).
///
/// Returns a `Cow` because for the shorthand `vN` Go returns `vN.0`, which is not a
/// substring of the input; every other valid version borrows.
pub fn major_minor(v: &str) -> Option<Cow<'_, str>> {
    let p = parse(v)?;
    let i = 1 + p.major.len();
    let j = i + 1 + p.minor.len();
    if j <= v.len() && v.as_bytes()[i] == b'.' && &v[i + 1..j] == p.minor {
        return Some(Cow::Borrowed(&v[..j]));
    }
    Some(Cow::Owned(format!("{}.{}", &v[..i], p.minor)))
}

/// The prerelease suffix of `v` including its `-`, e.g. `-pre` for `v2.1.0-pre+meta`;
/// `""` if there is none or `v` is invalid (semver.go `Prerelease`).
pub fn prerelease(v: &str) -> &str {
    parse(v).map_or("", |p| p.prerelease)
}

/// The build suffix of `v` including its `+`, e.g. `+meta` for `v2.1.0+meta`;
/// `""` if there is none or `v` is invalid (semver.go `Build`).
pub fn build(v: &str) -> &str {
    parse(v).map_or("", |p| p.build)
}

/// Compares two versions by semantic version precedence (semver.go `Compare`).
///
/// An invalid version is less than any valid one, and all invalid versions are
/// equal to each other. Build metadata is ignored.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (pa, pb) = match (parse(a), parse(b)) {
        (None, None) => return Ordering::Equal,
        (None, Some(_)) => return Ordering::Less,
        (Some(_), None) => return Ordering::Greater,
        (Some(pa), Some(pb)) => (pa, pb),
    };
    compare_int(pa.major, pb.major)
        .then_with(|| compare_int(pa.minor, pb.minor))
        .then_with(|| compare_int(pa.patch, pb.patch))
        .then_with(|| compare_prerelease(pa.prerelease, pb.prerelease))
}

/// Returns whichever of `a` and `b` compares greater, `b` on a tie.
///
/// Unlike Go's (deprecated) `semver.Max`, this returns the argument unchanged rather
/// than its canonical form; see [`max_canonical`] for Go's exact behaviour.
pub fn max<'a>(a: &'a str, b: &'a str) -> &'a str {
    if compare(a, b) == Ordering::Greater {
        a
    } else {
        b
    }
}

/// Go's `semver.Max`: canonicalizes both arguments and returns the greater one
/// (the second on a tie), with `""` standing for an invalid version.
pub fn max_canonical(a: &str, b: &str) -> String {
    let a = canonical(a).unwrap_or_default();
    let b = canonical(b).unwrap_or_default();
    if compare(&a, &b) == Ordering::Greater {
        a
    } else {
        b
    }
}

/// Sorts versions by [`compare`], breaking ties by plain string order, so the result
/// is deterministic even for equal-precedence spellings (semver.go `Sort`).
pub fn sort(list: &mut [String]) {
    list.sort_by(|a, b| compare_version(a, b));
}

/// The total order used by [`sort`] (semver.go `compareVersion`).
pub fn compare_version(a: &str, b: &str) -> Ordering {
    compare(a, b).then_with(|| a.cmp(b))
}

/// semver.go `parse`.
fn parse(v: &str) -> Option<Parsed<'_>> {
    let rest = v.strip_prefix('v')?;
    let mut p = Parsed::default();
    let (major, rest) = parse_int(rest)?;
    p.major = major;
    if rest.is_empty() {
        p.minor = "0";
        p.patch = "0";
        p.short = ".0.0";
        return Some(p);
    }
    let (minor, rest) = parse_int(rest.strip_prefix('.')?)?;
    p.minor = minor;
    if rest.is_empty() {
        p.patch = "0";
        p.short = ".0";
        return Some(p);
    }
    let (patch, mut rest) = parse_int(rest.strip_prefix('.')?)?;
    p.patch = patch;
    if rest.starts_with('-') {
        let (pre, r) = parse_prerelease(rest)?;
        p.prerelease = pre;
        rest = r;
    }
    if rest.starts_with('+') {
        let (build, r) = parse_build(rest)?;
        p.build = build;
        rest = r;
    }
    rest.is_empty().then_some(p)
}

/// semver.go `parseInt`: a non-empty run of digits without a leading zero.
fn parse_int(v: &str) -> Option<(&str, &str)> {
    let b = v.as_bytes();
    let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if n == 0 || (b[0] == b'0' && n != 1) {
        return None;
    }
    Some(v.split_at(n))
}

/// semver.go `parsePrerelease`: `-` then dot-separated identifiers up to a `+`.
fn parse_prerelease(v: &str) -> Option<(&str, &str)> {
    let b = v.as_bytes();
    if b.first() != Some(&b'-') {
        return None;
    }
    let mut i = 1;
    let mut start = 1;
    while i < b.len() && b[i] != b'+' {
        if !is_ident_char(b[i]) && b[i] != b'.' {
            return None;
        }
        if b[i] == b'.' {
            if start == i || is_bad_num(&v[start..i]) {
                return None;
            }
            start = i + 1;
        }
        i += 1;
    }
    if start == i || is_bad_num(&v[start..i]) {
        return None;
    }
    Some(v.split_at(i))
}

/// semver.go `parseBuild`: `+` then dot-separated identifiers to the end.
fn parse_build(v: &str) -> Option<(&str, &str)> {
    let b = v.as_bytes();
    if b.first() != Some(&b'+') {
        return None;
    }
    let mut i = 1;
    let mut start = 1;
    while i < b.len() {
        if !is_ident_char(b[i]) && b[i] != b'.' {
            return None;
        }
        if b[i] == b'.' {
            if start == i {
                return None;
            }
            start = i + 1;
        }
        i += 1;
    }
    if start == i {
        return None;
    }
    Some(v.split_at(i))
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-'
}

/// A numeric identifier with a leading zero (semver.go `isBadNum`).
fn is_bad_num(v: &str) -> bool {
    is_num(v) && v.len() > 1 && v.starts_with('0')
}

/// semver.go `isNum` (true for `""`, as in Go).
fn is_num(v: &str) -> bool {
    v.bytes().all(|c| c.is_ascii_digit())
}

/// Compares digit strings without leading zeros numerically (semver.go `compareInt`).
fn compare_int(x: &str, y: &str) -> Ordering {
    x.len().cmp(&y.len()).then_with(|| x.cmp(y))
}

/// semver.go `comparePrerelease` (SemVer 2.0.0 §11): no prerelease sorts after any
/// prerelease; identifiers compare numerically if both are numeric, numeric ones sort
/// before alphanumeric ones, and a longer list wins when one is a prefix of the other.
fn compare_prerelease(x: &str, y: &str) -> Ordering {
    if x == y {
        return Ordering::Equal;
    }
    if x.is_empty() {
        return Ordering::Greater;
    }
    if y.is_empty() {
        return Ordering::Less;
    }
    let (mut x, mut y) = (x, y);
    while !x.is_empty() && !y.is_empty() {
        // Skip the leading '-' or '.'.
        let (dx, rx) = next_ident(&x[1..]);
        let (dy, ry) = next_ident(&y[1..]);
        x = rx;
        y = ry;
        if dx != dy {
            let (ix, iy) = (is_num(dx), is_num(dy));
            if ix != iy {
                return if ix {
                    Ordering::Less
                } else {
                    Ordering::Greater
                };
            }
            if ix && dx.len() != dy.len() {
                return dx.len().cmp(&dy.len());
            }
            return dx.cmp(dy);
        }
    }
    if x.is_empty() {
        Ordering::Less
    } else {
        Ordering::Greater
    }
}

/// Splits `x` at its first `.` (semver.go `nextIdent`).
fn next_ident(x: &str) -> (&str, &str) {
    x.split_at(x.find('.').unwrap_or(x.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// semver_test.go `tests`, in ascending order; `""` means invalid.
    const TESTS: &[(&str, &str)] = &[
        ("bad", ""),
        ("v1-alpha.beta.gamma", ""),
        ("v1-pre", ""),
        ("v1+meta", ""),
        ("v1-pre+meta", ""),
        ("v1.2-pre", ""),
        ("v1.2+meta", ""),
        ("v1.2-pre+meta", ""),
        ("v1.0.0-alpha", "v1.0.0-alpha"),
        ("v1.0.0-alpha.1", "v1.0.0-alpha.1"),
        ("v1.0.0-alpha.beta", "v1.0.0-alpha.beta"),
        ("v1.0.0-beta", "v1.0.0-beta"),
        ("v1.0.0-beta.2", "v1.0.0-beta.2"),
        ("v1.0.0-beta.11", "v1.0.0-beta.11"),
        ("v1.0.0-rc.1", "v1.0.0-rc.1"),
        ("v1", "v1.0.0"),
        ("v1.0", "v1.0.0"),
        ("v1.0.0", "v1.0.0"),
        ("v1.2", "v1.2.0"),
        ("v1.2.0", "v1.2.0"),
        ("v1.2.3-456", "v1.2.3-456"),
        ("v1.2.3-456.789", "v1.2.3-456.789"),
        ("v1.2.3-456-789", "v1.2.3-456-789"),
        ("v1.2.3-456a", "v1.2.3-456a"),
        ("v1.2.3-pre", "v1.2.3-pre"),
        ("v1.2.3-pre+meta", "v1.2.3-pre"),
        ("v1.2.3-pre.1", "v1.2.3-pre.1"),
        ("v1.2.3-zzz", "v1.2.3-zzz"),
        ("v1.2.3", "v1.2.3"),
        ("v1.2.3+meta", "v1.2.3"),
        ("v1.2.3+meta-pre", "v1.2.3"),
        ("v1.2.3+meta-pre.sha.256a", "v1.2.3"),
    ];

    fn want_canonical(out: &str) -> Option<String> {
        (!out.is_empty()).then(|| out.to_string())
    }

    #[test]
    fn is_valid_vectors() {
        for &(input, out) in TESTS {
            assert_eq!(is_valid(input), !out.is_empty(), "is_valid({input:?})");
        }
    }

    #[test]
    fn canonical_vectors() {
        for &(input, out) in TESTS {
            assert_eq!(
                canonical(input),
                want_canonical(out),
                "canonical({input:?})"
            );
        }
    }

    #[test]
    fn major_vectors() {
        for &(input, out) in TESTS {
            let want = out.find('.').map(|i| &out[..i]);
            assert_eq!(major(input), want, "major({input:?})");
        }
    }

    #[test]
    fn major_minor_vectors() {
        for &(input, out) in TESTS {
            let want = (!out.is_empty()).then(|| {
                let mut w = input;
                if let Some(i) = w.find('+') {
                    w = &w[..i];
                }
                if let Some(i) = w.find('-') {
                    w = &w[..i];
                }
                match w.matches('.').count() {
                    0 => format!("{w}.0"),
                    1 => w.to_string(),
                    _ => w[..w.rfind('.').unwrap()].to_string(),
                }
            });
            assert_eq!(
                major_minor(input).map(Cow::into_owned),
                want,
                "major_minor({input:?})"
            );
        }
    }

    #[test]
    fn prerelease_vectors() {
        for &(input, out) in TESTS {
            let want = if out.is_empty() {
                ""
            } else {
                out.find('-').map_or("", |i| &out[i..])
            };
            assert_eq!(prerelease(input), want, "prerelease({input:?})");
        }
    }

    #[test]
    fn build_vectors() {
        for &(input, out) in TESTS {
            let want = if out.is_empty() {
                ""
            } else {
                input.find('+').map_or("", |i| &input[i..])
            };
            assert_eq!(build(input), want, "build({input:?})");
        }
    }

    #[test]
    fn compare_vectors() {
        for (i, &(vi, oi)) in TESTS.iter().enumerate() {
            for (j, &(vj, oj)) in TESTS.iter().enumerate() {
                let want = if oi == oj { Ordering::Equal } else { i.cmp(&j) };
                assert_eq!(compare(vi, vj), want, "compare({vi:?}, {vj:?})");
            }
        }
    }

    /// Go's `TestSort`: golden order after sorting a shuffled list.
    #[test]
    fn sort_golden() {
        let golden = [
            "bad",
            "v1+meta",
            "v1-alpha.beta.gamma",
            "v1-pre",
            "v1-pre+meta",
            "v1.2+meta",
            "v1.2-pre",
            "v1.2-pre+meta",
            "v1.0.0-alpha",
            "v1.0.0-alpha.1",
            "v1.0.0-alpha.beta",
            "v1.0.0-beta",
            "v1.0.0-beta.2",
            "v1.0.0-beta.11",
            "v1.0.0-rc.1",
            "v1",
            "v1.0",
            "v1.0.0",
            "v1.2",
            "v1.2.0",
            "v1.2.3-456",
            "v1.2.3-456.789",
            "v1.2.3-456-789",
            "v1.2.3-456a",
            "v1.2.3-pre",
            "v1.2.3-pre+meta",
            "v1.2.3-pre.1",
            "v1.2.3-zzz",
            "v1.2.3",
            "v1.2.3+meta",
            "v1.2.3+meta-pre",
            "v1.2.3+meta-pre.sha.256a",
        ];
        // Several deterministic shuffles (no rand dependency): rotations and reversal.
        let base: Vec<String> = TESTS.iter().map(|t| t.0.to_string()).collect();
        for k in 0..base.len() {
            let mut list = base.clone();
            list.rotate_left(k);
            if k % 2 == 1 {
                list.reverse();
            }
            sort(&mut list);
            assert!(
                list.windows(2)
                    .all(|w| compare_version(&w[0], &w[1]) != Ordering::Greater),
                "not sorted: {list:?}"
            );
            assert_eq!(list, golden, "rotation {k}");
        }
    }

    #[test]
    fn max_vectors() {
        for (i, &(vi, _)) in TESTS.iter().enumerate() {
            for (j, &(vj, _)) in TESTS.iter().enumerate() {
                let want = if i < j {
                    canonical(vj).unwrap_or_default()
                } else {
                    canonical(vi).unwrap_or_default()
                };
                assert_eq!(max_canonical(vi, vj), want, "max_canonical({vi:?}, {vj:?})");
                // `max` picks the same version, just uncanonicalized.
                let got = canonical(max(vi, vj)).unwrap_or_default();
                assert_eq!(got, want, "max({vi:?}, {vj:?})");
            }
        }
    }

    /// Property: `compare` is a total preorder and `compare_version` a total order
    /// (antisymmetric, transitive, equal only for identical strings) on the vectors
    /// plus some extra edge cases.
    #[test]
    fn compare_is_total_order() {
        let mut vs: Vec<&str> = TESTS.iter().map(|t| t.0).collect();
        vs.extend([
            "",
            "v",
            "v01",
            "v1.01",
            "v1.0.01",
            "v1.0.0-01",
            "v1.0.0-0",
            "v1.0.0-00a",
            "v1.0.0-a..b",
            "v1.0.0+",
            "v1.0.0-",
            "v10.0.0",
            "v9.0.0",
            "v99999999999999999999999.0.0",
            "v100000000000000000000000.0.0",
            "v1.0.0-alpha.-",
            "v1.0.0-alpha.1a",
            "v1.0.0-1.2.3.4.5.6",
            "v2.0.0+incompatible",
        ]);
        for &a in &vs {
            assert_eq!(compare(a, a), Ordering::Equal);
            for &b in &vs {
                assert_eq!(compare(a, b), compare(b, a).reverse(), "{a:?} {b:?}");
                let cv = compare_version(a, b);
                assert_eq!(cv == Ordering::Equal, a == b);
                for &c in &vs {
                    if compare(a, b) != Ordering::Greater && compare(b, c) != Ordering::Greater {
                        assert_ne!(compare(a, c), Ordering::Greater, "{a:?} {b:?} {c:?}");
                    }
                    if cv == Ordering::Less && compare_version(b, c) == Ordering::Less {
                        assert_eq!(compare_version(a, c), Ordering::Less);
                    }
                }
            }
        }
    }

    #[test]
    fn edge_cases() {
        assert!(!is_valid(""));
        assert!(!is_valid("v"));
        assert!(!is_valid("1.2.3"));
        assert!(!is_valid("v01.2.3"));
        assert!(!is_valid("v1.2.3-01"));
        assert!(is_valid("v1.2.3-0"));
        assert!(is_valid("v1.2.3-01a"));
        assert!(!is_valid("v1.2.3-a..b"));
        assert!(!is_valid("v1.2.3+"));
        assert!(!is_valid("v1.2.3+a..b"));
        assert!(!is_valid("v1.2.3+é"));
        assert!(!is_valid("v1.2.3.4"));
        // Build identifiers may have leading zeros.
        assert!(is_valid("v1.2.3+01"));
        assert_eq!(
            compare(
                "v99999999999999999999999.0.0",
                "v100000000000000000000000.0.0"
            ),
            Ordering::Less
        );
        assert_eq!(major("v2.0.0+incompatible"), Some("v2"));
        assert_eq!(build("v2.0.0+incompatible"), "+incompatible");
        assert_eq!(major_minor("v1").as_deref(), Some("v1.0"));
        assert!(matches!(major_minor("v1.2.3"), Some(Cow::Borrowed("v1.2"))));
    }
}
