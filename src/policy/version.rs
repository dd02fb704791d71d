//! Version constraints of a policy: comparisons, ranges and kind switches
//! over module versions (Go semver order, [`crate::xmod::semver::compare`]) or Go
//! toolchain versions (the go command's `gover` order, ported below).
//!
//! A constraint is a `||`-separated list of alternatives; each alternative is
//! a `,`-separated list of terms `OP VERSION` with `OP` one of `<`, `<=`,
//! `>`, `>=`, `=` (a bare version means `=`). An alternative is therefore one
//! interval of the version order; the constraint is their union. Build
//! metadata is ignored by the order, exactly as the go command ignores it, so
//! `< v2.0.0` does not match `v2.0.0+incompatible` and `>= v2.0.0` does.
//!
//! The interval algebra ([`Filter::covers`], [`Filter::disjoint`]) lets the
//! loader prove that a rule can never apply. It is deliberately
//! conservative: it only answers "yes" when that is certain (the version
//! order is not dense, e.g. nothing lies strictly between `v1.0.0-0` and
//! `v1.0.0-0.0`, so a hole it sees may in fact be empty), so a policy is
//! never rejected for a rule that could apply.

use std::cmp::Ordering;
use std::fmt;

use crate::xmod::module;
use crate::xmod::semver;

/// Which version order a constraint uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// Module versions: `v1.2.3`, pre-releases, pseudo-versions, `+incompatible`.
    Module,
    /// Go toolchain versions: `go1.21.0`, `go1.22rc1`, `go1.20`.
    Go,
}

impl Scheme {
    fn compare(self, a: &str, b: &str) -> Ordering {
        match self {
            Scheme::Module => semver::compare(a, b),
            Scheme::Go => gover_compare(a, b),
        }
    }
}

/// The kind of a version, for the `kinds` switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// No pre-release part (`v1.2.3`, `v2.0.0+incompatible`, `go1.22.3`).
    Release,
    /// A pre-release that is not a pseudo-version (`v1.3.0-rc.1`, `go1.23rc1`).
    Prerelease,
    /// A pseudo-version (`v0.0.0-20240101000000-abcdef123456`,
    /// `v1.2.4-0.20240101000000-abcdef123456`). Pseudo-versions are
    /// pre-releases in semver terms, but only this kind governs them.
    Pseudo,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Release, Kind::Prerelease, Kind::Pseudo];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Release => "release",
            Kind::Prerelease => "prerelease",
            Kind::Pseudo => "pseudo",
        }
    }

    fn phrase(self) -> &'static str {
        match self {
            Kind::Release => "release",
            Kind::Prerelease => "pre-release",
            Kind::Pseudo => "pseudo-version",
        }
    }

    fn plural(self) -> &'static str {
        match self {
            Kind::Release => "releases",
            Kind::Prerelease => "pre-releases",
            Kind::Pseudo => "pseudo-versions",
        }
    }

    fn bit(self) -> u8 {
        match self {
            Kind::Release => 1,
            Kind::Prerelease => 2,
            Kind::Pseudo => 4,
        }
    }

    /// The kind of a valid version under `scheme`.
    pub(crate) fn of(scheme: Scheme, v: &str) -> Kind {
        match scheme {
            Scheme::Module if module::is_pseudo_version(v) => Kind::Pseudo,
            Scheme::Module if !semver::prerelease(v).is_empty() => Kind::Prerelease,
            Scheme::Module => Kind::Release,
            Scheme::Go if gover_parse(v).is_some_and(|p| !p.kind.is_empty()) => Kind::Prerelease,
            Scheme::Go => Kind::Release,
        }
    }
}

/// A set of [`Kind`]s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct KindSet(u8);

impl KindSet {
    pub(crate) const NONE: KindSet = KindSet(0);

    /// Every kind that exists under `scheme` (toolchains have no pseudo-versions).
    pub(crate) fn all(scheme: Scheme) -> KindSet {
        match scheme {
            Scheme::Module => KindSet(7),
            Scheme::Go => KindSet(3),
        }
    }

    pub(crate) fn insert(&mut self, k: Kind) -> bool {
        let had = self.contains(k);
        self.0 |= k.bit();
        !had
    }

    pub(crate) fn contains(self, k: Kind) -> bool {
        self.0 & k.bit() != 0
    }

    fn is_subset(self, other: KindSet) -> bool {
        self.0 & !other.0 == 0
    }

    fn intersects(self, other: KindSet) -> bool {
        self.0 & other.0 != 0
    }

    pub(crate) fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// One end of an interval.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Bound {
    v: String,
    inclusive: bool,
}

/// An interval of the version order; `None` is unbounded.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
struct Interval {
    lo: Option<Bound>,
    hi: Option<Bound>,
}

impl Interval {
    fn contains(&self, s: Scheme, v: &str) -> bool {
        let lo_ok = self.lo.as_ref().is_none_or(|b| match s.compare(v, &b.v) {
            Ordering::Greater => true,
            Ordering::Equal => b.inclusive,
            Ordering::Less => false,
        });
        let hi_ok = self.hi.as_ref().is_none_or(|b| match s.compare(v, &b.v) {
            Ordering::Less => true,
            Ordering::Equal => b.inclusive,
            Ordering::Greater => false,
        });
        lo_ok && hi_ok
    }

    /// Certainly empty: the bounds cross or meet without both being inclusive.
    fn is_empty(&self, s: Scheme) -> bool {
        match (&self.lo, &self.hi) {
            (Some(lo), Some(hi)) => match s.compare(&lo.v, &hi.v) {
                Ordering::Greater => true,
                Ordering::Equal => !(lo.inclusive && hi.inclusive),
                Ordering::Less => false,
            },
            _ => false,
        }
    }

    /// Narrows the lower bound to `b` if `b` is tighter.
    fn raise_lo(&mut self, s: Scheme, b: Bound) {
        let tighter = match &self.lo {
            None => true,
            Some(cur) => match s.compare(&b.v, &cur.v) {
                Ordering::Greater => true,
                Ordering::Equal => !b.inclusive,
                Ordering::Less => false,
            },
        };
        if tighter {
            self.lo = Some(b);
        }
    }

    /// Narrows the upper bound to `b` if `b` is tighter.
    fn lower_hi(&mut self, s: Scheme, b: Bound) {
        let tighter = match &self.hi {
            None => true,
            Some(cur) => match s.compare(&b.v, &cur.v) {
                Ordering::Less => true,
                Ordering::Equal => !b.inclusive,
                Ordering::Greater => false,
            },
        };
        if tighter {
            self.hi = Some(b);
        }
    }

    /// `self` starts no earlier than `other` starts.
    fn lo_within(&self, s: Scheme, other: &Interval) -> bool {
        match (&self.lo, &other.lo) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(a), Some(b)) => match s.compare(&a.v, &b.v) {
                Ordering::Greater => true,
                Ordering::Equal => b.inclusive || !a.inclusive,
                Ordering::Less => false,
            },
        }
    }

    /// `self` ends no later than `other` ends.
    fn hi_within(&self, s: Scheme, other: &Interval) -> bool {
        match (&self.hi, &other.hi) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(a), Some(b)) => match s.compare(&a.v, &b.v) {
                Ordering::Less => true,
                Ordering::Equal => b.inclusive || !a.inclusive,
                Ordering::Greater => false,
            },
        }
    }

    fn within(&self, s: Scheme, other: &Interval) -> bool {
        self.lo_within(s, other) && self.hi_within(s, other)
    }

    /// Certainly disjoint: one ends before the other starts.
    fn disjoint(&self, s: Scheme, other: &Interval) -> bool {
        fn before(s: Scheme, hi: &Option<Bound>, lo: &Option<Bound>) -> bool {
            match (hi, lo) {
                (Some(hi), Some(lo)) => match s.compare(&hi.v, &lo.v) {
                    Ordering::Less => true,
                    Ordering::Equal => !(hi.inclusive && lo.inclusive),
                    Ordering::Greater => false,
                },
                _ => false,
            }
        }
        before(s, &self.hi, &other.lo) || before(s, &other.hi, &self.lo)
    }
}

/// Merges intervals into sorted, non-touching ones (their union).
fn merge(s: Scheme, list: &[Interval]) -> Vec<Interval> {
    let mut v: Vec<Interval> = list.to_vec();
    v.sort_by(|a, b| match (&a.lo, &b.lo) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => s
            .compare(&x.v, &y.v)
            .then_with(|| y.inclusive.cmp(&x.inclusive)),
    });
    let mut out: Vec<Interval> = Vec::new();
    for iv in v {
        if let Some(cur) = out.last_mut() {
            let touches = match (&cur.hi, &iv.lo) {
                (None, _) | (_, None) => true,
                (Some(hi), Some(lo)) => match s.compare(&lo.v, &hi.v) {
                    Ordering::Less => true,
                    Ordering::Equal => lo.inclusive || hi.inclusive,
                    Ordering::Greater => false,
                },
            };
            if touches {
                if !iv.hi_within(s, cur) {
                    cur.hi = iv.hi;
                }
                continue;
            }
        }
        out.push(iv);
    }
    out
}

/// A parsed version constraint: a union of intervals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Constraint {
    scheme: Scheme,
    /// Normalized text, e.g. `>= v1.2.0, < v1.3.0 || = v2.0.1`.
    text: String,
    alts: Vec<Interval>,
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Constraint {
    /// Parses `text`. Errors name the offending part; an alternative that
    /// can never match (its bounds cross) is an error too.
    pub(crate) fn parse(text: &str, scheme: Scheme) -> Result<Constraint, String> {
        if text.trim().is_empty() {
            return Err("empty version constraint".into());
        }
        let mut alts = Vec::new();
        let mut alt_texts = Vec::new();
        for alt in text.split("||") {
            let mut iv = Interval::default();
            let mut terms = Vec::new();
            for term in alt.split(',') {
                let term = term.trim();
                if term.is_empty() {
                    return Err(format!(
                        "empty term in version constraint {}",
                        module::quote(text)
                    ));
                }
                let (op, rest) = split_op(term);
                let rest = rest.trim_start();
                let v = parse_version(rest, scheme)?;
                let shown = display_version(&v, scheme);
                match op {
                    "<" => iv.lower_hi(
                        scheme,
                        Bound {
                            v,
                            inclusive: false,
                        },
                    ),
                    "<=" => iv.lower_hi(scheme, Bound { v, inclusive: true }),
                    ">" => iv.raise_lo(
                        scheme,
                        Bound {
                            v,
                            inclusive: false,
                        },
                    ),
                    ">=" => iv.raise_lo(scheme, Bound { v, inclusive: true }),
                    _ => {
                        iv.raise_lo(
                            scheme,
                            Bound {
                                v: v.clone(),
                                inclusive: true,
                            },
                        );
                        iv.lower_hi(scheme, Bound { v, inclusive: true });
                    }
                }
                terms.push(format!("{} {shown}", if op.is_empty() { "=" } else { op }));
            }
            let alt_text = terms.join(", ");
            if iv.is_empty(scheme) {
                return Err(format!(
                    "version range {} is empty: no version can match it",
                    module::quote(&alt_text)
                ));
            }
            alts.push(iv);
            alt_texts.push(alt_text);
        }
        Ok(Constraint {
            scheme,
            text: alt_texts.join(" || "),
            alts,
        })
    }

    /// Whether `v` (valid under the scheme) lies in the constraint.
    pub(crate) fn matches(&self, v: &str) -> bool {
        self.alts.iter().any(|iv| iv.contains(self.scheme, v))
    }

    /// Intersects every alternative with `>= min`; an error if nothing is left.
    pub(crate) fn with_min(mut self, min: &str) -> Option<Constraint> {
        let b = Bound {
            v: min.to_owned(),
            inclusive: true,
        };
        for iv in &mut self.alts {
            iv.raise_lo(self.scheme, b.clone());
        }
        let s = self.scheme;
        self.alts.retain(|iv| !iv.is_empty(s));
        (!self.alts.is_empty()).then_some(self)
    }
}

fn split_op(term: &str) -> (&str, &str) {
    for op in ["<=", ">=", "==", "<", ">", "="] {
        if let Some(rest) = term.strip_prefix(op) {
            return (if op == "==" { "=" } else { op }, rest);
        }
    }
    ("", term)
}

/// Validates one version of a constraint; returns it in the form the order
/// compares (Go versions without their `go` prefix).
pub(crate) fn parse_version(v: &str, scheme: Scheme) -> Result<String, String> {
    if v.is_empty() {
        return Err("missing version after the comparison".into());
    }
    match scheme {
        Scheme::Module => {
            if !semver::is_valid(v) {
                let hint = if semver::is_valid(&format!("v{v}")) {
                    format!(" (module versions start with \"v\": \"v{v}\")")
                } else {
                    String::new()
                };
                return Err(format!(
                    "{} is not a semantic version{hint}",
                    module::quote(v)
                ));
            }
            let build = semver::build(v);
            if !build.is_empty() && build != "+incompatible" {
                return Err(format!(
                    "{}: build metadata {} is not allowed (only +incompatible)",
                    module::quote(v),
                    module::quote(build)
                ));
            }
            Ok(v.to_owned())
        }
        Scheme::Go => {
            let bare = v.strip_prefix("go").unwrap_or(v);
            if gover_parse(bare).is_none() {
                return Err(format!(
                    "{} is not a Go version (e.g. \"go1.22.3\", \"go1.23rc1\")",
                    module::quote(v)
                ));
            }
            Ok(bare.to_owned())
        }
    }
}

pub(crate) fn display_version(v: &str, scheme: Scheme) -> String {
    match scheme {
        Scheme::Module => v.to_owned(),
        Scheme::Go => format!("go{v}"),
    }
}

/// What a rule's `versions` and `kinds` select.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Filter {
    pub(crate) scheme: Scheme,
    pub(crate) constraint: Option<Constraint>,
    pub(crate) kinds: KindSet,
}

impl Filter {
    /// Every version.
    pub(crate) fn all(scheme: Scheme) -> Filter {
        Filter {
            scheme,
            constraint: None,
            kinds: KindSet::all(scheme),
        }
    }

    /// Selects every version (no `versions`, every kind): only such rules
    /// apply to version-less requests (`@v/list`, `@latest`).
    pub(crate) fn is_all(&self) -> bool {
        self.constraint.is_none() && self.kinds == KindSet::all(self.scheme)
    }

    pub(crate) fn matches(&self, v: &str) -> bool {
        self.kinds.contains(Kind::of(self.scheme, v))
            && self.constraint.as_ref().is_none_or(|c| c.matches(v))
    }

    fn intervals(&self) -> Vec<Interval> {
        match &self.constraint {
            Some(c) => c.alts.clone(),
            None => vec![Interval::default()],
        }
    }

    /// Certainly: every version `other` selects, `self` selects too.
    pub(crate) fn covers(&self, other: &Filter) -> bool {
        if !other.kinds.is_subset(self.kinds) {
            return false;
        }
        let mine = merge(self.scheme, &self.intervals());
        other
            .intervals()
            .iter()
            .all(|iv| mine.iter().any(|m| iv.within(self.scheme, m)))
    }

    /// Certainly: no version is selected by both.
    pub(crate) fn disjoint(&self, other: &Filter) -> bool {
        if !self.kinds.intersects(other.kinds) {
            return true;
        }
        let theirs = other.intervals();
        self.intervals()
            .iter()
            .all(|a| theirs.iter().all(|b| a.disjoint(self.scheme, b)))
    }

    /// Why `v` is selected, for messages (`is in range < v2.2.8`, `is a
    /// pseudo-version`); `None` for a filter that selects every version.
    pub(crate) fn describe_match(&self, v: &str) -> Option<String> {
        let kind = Kind::of(self.scheme, v).phrase();
        let restricted = self.kinds != KindSet::all(self.scheme);
        match (&self.constraint, restricted) {
            (Some(c), false) => Some(format!("is in range {c}")),
            (Some(c), true) => Some(format!("is in range {c} and is a {kind}")),
            (None, true) => Some(format!("is a {kind}")),
            (None, false) => None,
        }
    }

    /// The selection as text, e.g. `>= v1.2.0 (release versions only)`.
    pub(crate) fn describe(&self) -> String {
        let restricted = self.kinds != KindSet::all(self.scheme);
        let kinds = || {
            Kind::ALL
                .into_iter()
                .filter(|k| self.kinds.contains(*k))
                .map(Kind::plural)
                .collect::<Vec<_>>()
                .join(" and ")
        };
        match (&self.constraint, restricted) {
            (Some(c), false) => c.to_string(),
            (Some(c), true) => format!("{c} ({} only)", kinds()),
            (None, true) => format!("{} only", kinds()),
            (None, false) => "any version".to_owned(),
        }
    }
}

// ---------------------------------------------------------------------------
// Go versions (cmd/go/internal/gover, go/version).
// ---------------------------------------------------------------------------

/// A parsed Go version (gover.go `version`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct GoVersion<'a> {
    major: &'a str,
    minor: &'a str,
    patch: &'a str,
    kind: &'a str,
    pre: &'a str,
}

/// gover.go `cutInt`.
fn cut_int(x: &str) -> Option<(&str, &str)> {
    let n = x.bytes().take_while(u8::is_ascii_digit).count();
    if n == 0 || (x.starts_with('0') && n != 1) {
        return None;
    }
    Some(x.split_at(n))
}

/// gover.go `parse` (without the `go` prefix): `1.21.0`, `1.21rc1`, `1.21`,
/// `1.20` (= `1.20.0`: before 1.21 a missing patch means `.0`).
fn gover_parse(x: &str) -> Option<GoVersion<'_>> {
    let mut v = GoVersion::default();
    let (major, x) = cut_int(x)?;
    v.major = major;
    if x.is_empty() {
        v.minor = "0";
        v.patch = "0";
        return Some(v);
    }
    let (minor, x) = cut_int(x.strip_prefix('.')?)?;
    v.minor = minor;
    if x.is_empty() {
        if cmp_int(minor, "21") == Ordering::Less {
            v.patch = "0";
        }
        return Some(v);
    }
    if let Some(rest) = x.strip_prefix('.') {
        let (patch, x) = cut_int(rest)?;
        if !x.is_empty() {
            return None;
        }
        v.patch = patch;
        return Some(v);
    }
    let i = x.bytes().take_while(|b| !b.is_ascii_digit()).count();
    if i == 0 || !x[..i].bytes().all(|b| b.is_ascii_lowercase()) {
        return None;
    }
    v.kind = &x[..i];
    let x = &x[i..];
    if x.is_empty() {
        return Some(v);
    }
    let (pre, x) = cut_int(x)?;
    if !x.is_empty() {
        return None;
    }
    v.pre = pre;
    Some(v)
}

/// gover.go `cmpInt`: decimal strings without leading zeros ("" sorts first).
fn cmp_int(x: &str, y: &str) -> Ordering {
    x.len().cmp(&y.len()).then_with(|| x.cmp(y))
}

/// gover.go `Compare` (versions without `go`): `1.21 < 1.21rc1 < 1.21.0 <
/// 1.21.1`; invalid versions sort first.
pub(crate) fn gover_compare(x: &str, y: &str) -> Ordering {
    let (a, b) = (
        gover_parse(x).unwrap_or_default(),
        gover_parse(y).unwrap_or_default(),
    );
    cmp_int(a.major, b.major)
        .then_with(|| cmp_int(a.minor, b.minor))
        .then_with(|| cmp_int(a.patch, b.patch))
        .then_with(|| a.kind.cmp(b.kind))
        .then_with(|| cmp_int(a.pre, b.pre))
}

/// Whether `x` (with or without `go`) is a valid Go version.
pub(crate) fn gover_is_valid(x: &str) -> bool {
    gover_parse(x.strip_prefix("go").unwrap_or(x)).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Constraint {
        Constraint::parse(s, Scheme::Module).unwrap()
    }

    fn f(s: &str) -> Filter {
        Filter {
            scheme: Scheme::Module,
            constraint: Some(c(s)),
            kinds: KindSet::all(Scheme::Module),
        }
    }

    #[test]
    fn comparisons_at_the_boundaries() {
        let table: &[(&str, &str, bool)] = &[
            ("< v2.2.8", "v2.2.7", true),
            ("< v2.2.8", "v2.2.8", false),
            ("< v2.2.8", "v2.2.8-rc.1", true),
            ("< v2.2.8", "v2.2.8-0.20200101000000-abcdefabcdef", true),
            ("< v2.2.8", "v2.2.7-0.20200101000000-abcdefabcdef", true),
            ("< v2.2.8", "v2.2.9-0.20200101000000-abcdefabcdef", false),
            ("<= v2.2.8", "v2.2.8", true),
            ("<= v2.2.8", "v2.2.9-0.20200101000000-abcdefabcdef", false),
            ("> v1.0.0", "v1.0.0", false),
            ("> v1.0.0", "v1.0.1-0.20200101000000-abcdefabcdef", true),
            ("> v1.0.0", "v1.0.1-alpha", true),
            (">= v1.0.0", "v1.0.0", true),
            (">= v1.0.0", "v1.0.0-rc.1", false),
            ("= v1.0.0", "v1.0.0", true),
            ("v1.0.0", "v1.0.0", true),
            ("== v1.0.0", "v1.0.1", false),
            ("= v1.2", "v1.2.0", true),
            (">= v1.2.0, < v1.3.0", "v1.2.0", true),
            (">= v1.2.0, < v1.3.0", "v1.2.99", true),
            (">= v1.2.0, < v1.3.0", "v1.3.0-pre", true),
            (">= v1.2.0, < v1.3.0", "v1.3.0", false),
            (">= v1.2.0, < v1.3.0", "v1.2.0-pre", false),
            ("< v1.0.0 || >= v2.0.0, < v2.1.0", "v0.9.0", true),
            ("< v1.0.0 || >= v2.0.0, < v2.1.0", "v1.5.0", false),
            ("< v1.0.0 || >= v2.0.0, < v2.1.0", "v2.0.5", true),
            // +incompatible: build metadata is ignored by the order.
            ("< v2.0.0", "v2.0.0+incompatible", false),
            (">= v2.0.0", "v2.0.0+incompatible", true),
            ("= v2.0.0+incompatible", "v2.0.0+incompatible", true),
            ("< v3.0.0", "v2.9.9+incompatible", true),
            (
                ">= v2.0.0",
                "v2.0.1-0.20200101000000-abcdefabcdef+incompatible",
                true,
            ),
            // Zero pseudo-versions sort before every release of their major.
            ("< v0.1.0", "v0.0.0-20200101000000-abcdefabcdef", true),
            (">= v0.0.0", "v0.0.0-20200101000000-abcdefabcdef", false),
        ];
        for &(cons, v, want) in table {
            assert_eq!(c(cons).matches(v), want, "{cons:?} matches {v:?}");
        }
    }

    #[test]
    fn normalized_text() {
        assert_eq!(c(">=v1.2.0,<v1.3.0").to_string(), ">= v1.2.0, < v1.3.0");
        assert_eq!(c("v1.0.0 || ==v2.0.0").to_string(), "= v1.0.0 || = v2.0.0");
    }

    #[test]
    fn constraint_errors() {
        let e = |s: &str| Constraint::parse(s, Scheme::Module).unwrap_err();
        assert_eq!(
            e("< 1.2.3"),
            r#""1.2.3" is not a semantic version (module versions start with "v": "v1.2.3")"#
        );
        assert_eq!(
            e(">= v1.3.0, < v1.2.0"),
            r#"version range ">= v1.3.0, < v1.2.0" is empty: no version can match it"#
        );
        assert_eq!(
            e("> v1.0.0, < v1.0.0"),
            r#"version range "> v1.0.0, < v1.0.0" is empty: no version can match it"#
        );
        assert_eq!(
            e(">= v1.0.0,"),
            r#"empty term in version constraint ">= v1.0.0,""#
        );
        assert_eq!(e(""), "empty version constraint");
        assert_eq!(e("<"), "missing version after the comparison");
        assert_eq!(
            e("= v1.0.0+meta"),
            r#""v1.0.0+meta": build metadata "+meta" is not allowed (only +incompatible)"#
        );
        assert_eq!(e("~> v1"), r#""~> v1" is not a semantic version"#);
        // A single point is fine.
        assert!(Constraint::parse(">= v1.0.0, <= v1.0.0", Scheme::Module).is_ok());
    }

    #[test]
    fn coverage_and_disjointness() {
        let all = Filter::all(Scheme::Module);
        assert!(all.covers(&f("< v1.0.0")));
        assert!(!f("< v1.0.0").covers(&all));
        assert!(f("< v2.0.0").covers(&f("< v1.0.0")));
        assert!(f("<= v1.0.0").covers(&f("< v1.0.0")));
        assert!(!f("< v1.0.0").covers(&f("<= v1.0.0")));
        // A union that touches at an inclusive end covers the whole span.
        assert!(f("< v1.0.0 || >= v1.0.0, < v2.0.0").covers(&f(">= v0.5.0, < v1.5.0")));
        // A hole at v1.0.0 itself.
        assert!(!f("< v1.0.0 || > v1.0.0").covers(&f(">= v0.5.0, < v1.5.0")));
        assert!(f("< v1.0.0").disjoint(&f(">= v1.0.0")));
        assert!(!f("<= v1.0.0").disjoint(&f(">= v1.0.0")));
        assert!(!f("< v1.0.0").disjoint(&all));
        let mut pseudo_only = all.clone();
        pseudo_only.kinds = KindSet::NONE;
        pseudo_only.kinds.insert(Kind::Pseudo);
        let mut release_only = all.clone();
        release_only.kinds = KindSet::NONE;
        release_only.kinds.insert(Kind::Release);
        assert!(pseudo_only.disjoint(&release_only));
        assert!(all.covers(&pseudo_only));
        assert!(!pseudo_only.covers(&all));
    }

    #[test]
    fn kinds() {
        assert_eq!(Kind::of(Scheme::Module, "v1.0.0"), Kind::Release);
        assert_eq!(
            Kind::of(Scheme::Module, "v2.0.0+incompatible"),
            Kind::Release
        );
        assert_eq!(Kind::of(Scheme::Module, "v1.0.0-rc.1"), Kind::Prerelease);
        assert_eq!(
            Kind::of(Scheme::Module, "v0.0.0-20200101000000-abcdefabcdef"),
            Kind::Pseudo
        );
        assert_eq!(
            Kind::of(Scheme::Module, "v1.2.4-0.20200101000000-abcdefabcdef"),
            Kind::Pseudo
        );
        assert_eq!(
            Kind::of(Scheme::Module, "v1.2.4-pre.0.20200101000000-abcdefabcdef"),
            Kind::Pseudo
        );
        assert_eq!(Kind::of(Scheme::Go, "1.22rc1"), Kind::Prerelease);
        assert_eq!(Kind::of(Scheme::Go, "1.22.0"), Kind::Release);
    }

    #[test]
    fn go_version_order() {
        // Ascending (gover_test.go compareTests and the 1.21 naming change).
        let order = [
            "1",
            "1.1",
            "1.19",
            "1.20rc1",
            "1.20",
            "1.20.1",
            "1.21",
            "1.21alpha1",
            "1.21beta1",
            "1.21rc1",
            "1.21rc2",
            "1.21.0",
            "1.21.1",
            "1.21.10",
            "1.22rc1",
            "1.22.0",
            "2",
        ];
        for (i, a) in order.iter().enumerate() {
            for (j, b) in order.iter().enumerate() {
                assert_eq!(gover_compare(a, b), i.cmp(&j), "{a} vs {b}");
            }
        }
        assert_eq!(gover_compare("1.20", "1.20.0"), Ordering::Equal);
        for bad in [
            "", "1.", "01.2", "1.2.3rc1", "1.21RC1", "1.21-rc1", "go1.21", "1.2.3.4",
        ] {
            assert!(gover_parse(bad).is_none(), "{bad:?}");
        }
        assert!(gover_is_valid("go1.21.0") && gover_is_valid("1.21rc1"));
        let g = Constraint::parse(">= go1.21.0, < go1.23", Scheme::Go).unwrap();
        assert!(g.matches("1.22.5") && g.matches("1.21.0") && !g.matches("1.21rc2"));
        assert!(!g.matches("1.23rc1") && !g.matches("1.23.0"));
        assert_eq!(g.to_string(), ">= go1.21.0, < go1.23");
        assert_eq!(
            Constraint::parse(">= 1.22.x", Scheme::Go).unwrap_err(),
            r#""1.22.x" is not a Go version (e.g. "go1.22.3", "go1.23rc1")"#
        );
    }
}
