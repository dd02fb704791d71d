//! Loading a policy: TOML → raw structs with spans → validated [`Policy`].
//!
//! Every problem becomes a [`Diagnostic`] with file, line and column; the
//! loader keeps going after a problem so that one run reports them all.
//! Cross-rule checks (rules that can never apply, toolchain proof) run on
//! the rules that are individually valid.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use toml::Spanned;

use super::Access;
use super::rules::{Glob, Patterns, PlatformGlob};
use super::version::{self, Constraint, Filter, Kind, KindSet, Scheme};
use super::{
    Auth, Diagnostic, Mode, Policy, PolicyError, PolicySigner, PrivateRoute, ProofKind, Rule,
    Secret, Section, Settings, SignatureSetting, TOOLCHAIN_MODULE, ToolchainRules,
};
use crate::upstream;
use crate::verify::proof::pinned::pins::{PinSet, PinSite};
use crate::verify::proof::signature::kind::{SignedMode, check_location};
use crate::verify::proof::signature::{Instance, Matcher, PublicKey, Signer, TrustRoot};
use crate::verify::proof::{RequiredProof, pinned, sumdb};
use crate::xmod::module::quote;

type Span = Range<usize>;

/// A string or an array of strings.
#[derive(Debug)]
enum OneOrMany {
    One(String),
    Many(Vec<Spanned<String>>),
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany::One(v.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<Spanned<String>>()? {
                    out.push(s);
                }
                Ok(OneOrMany::Many(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// The items of a [`OneOrMany`] with their spans.
fn items(v: &Spanned<OneOrMany>) -> Vec<(String, Span)> {
    match v.get_ref() {
        OneOrMany::One(s) => vec![(s.clone(), v.span())],
        OneOrMany::Many(list) => list
            .iter()
            .map(|s| (s.get_ref().clone(), s.span()))
            .collect(),
    }
}

/// A byte count or a string with a unit (the one size syntax, [`crate::size`]).
use crate::size::SizeValue as Size;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    mode: Option<Spanned<String>>,
    defaults: Option<Spanned<RawDefaults>>,
    #[serde(default)]
    deny: Vec<Spanned<RawDeny>>,
    #[serde(default)]
    allow: Vec<Spanned<RawAllow>>,
    #[serde(default)]
    private: Vec<Spanned<RawPrivate>>,
    toolchain: Option<Spanned<RawToolchain>>,
    #[serde(default)]
    signer: Vec<Spanned<RawSigner>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    proof: Option<Spanned<OneOrMany>>,
    pins: Option<Spanned<OneOrMany>>,
    max_zip_size: Option<Spanned<Size>>,
    deny_retracted: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDeny {
    name: Spanned<String>,
    modules: Spanned<OneOrMany>,
    versions: Option<Spanned<String>>,
    kinds: Option<Spanned<OneOrMany>>,
    reason: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAllow {
    name: Spanned<String>,
    modules: Spanned<OneOrMany>,
    versions: Option<Spanned<String>>,
    kinds: Option<Spanned<OneOrMany>>,
    reason: Option<String>,
    proof: Option<Spanned<OneOrMany>>,
    pins: Option<Spanned<OneOrMany>>,
    signers: Option<Spanned<OneOrMany>>,
    signatures: Option<Spanned<String>>,
    signed: Option<Spanned<String>>,
    max_zip_size: Option<Spanned<Size>>,
    deny_retracted: Option<bool>,
    users: Option<Spanned<OneOrMany>>,
    groups: Option<Spanned<OneOrMany>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrivate {
    name: Spanned<String>,
    modules: Spanned<OneOrMany>,
    upstream: Spanned<String>,
    auth: Option<Spanned<RawAuth>>,
    reason: Option<String>,
    proof: Option<Spanned<OneOrMany>>,
    pins: Option<Spanned<OneOrMany>>,
    signers: Option<Spanned<OneOrMany>>,
    signatures: Option<Spanned<String>>,
    signed: Option<Spanned<String>>,
    max_zip_size: Option<Spanned<Size>>,
    deny_retracted: Option<bool>,
    users: Option<Spanned<OneOrMany>>,
    groups: Option<Spanned<OneOrMany>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    #[serde(rename = "type")]
    kind: Spanned<String>,
    token_env: Option<Spanned<String>>,
    token_file: Option<Spanned<String>>,
    username: Option<Spanned<String>>,
    password_env: Option<Spanned<String>>,
    password_file: Option<Spanned<String>>,
    file: Option<Spanned<String>>,
    // Accepted by the parser only to reject them with a clear message.
    token: Option<Spanned<toml::Value>>,
    password: Option<Spanned<toml::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToolchain {
    min_version: Option<Spanned<String>>,
    versions: Option<Spanned<String>>,
    kinds: Option<Spanned<OneOrMany>>,
    platforms: Option<Spanned<OneOrMany>>,
    proof: Option<Spanned<OneOrMany>>,
    signers: Option<Spanned<OneOrMany>>,
    signatures: Option<Spanned<String>>,
    signed: Option<Spanned<String>>,
}

/// `[[signer]]`: who may sign (issue #11). Checked at load: the key
/// parses, the regexps compile, the trusted root loads.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSigner {
    name: Spanned<String>,
    identity: Option<Spanned<String>>,
    identity_regexp: Option<Spanned<String>>,
    issuer: Option<Spanned<String>>,
    issuer_regexp: Option<Spanned<String>>,
    trusted_root: Option<Spanned<String>>,
    key: Option<Spanned<String>>,
}

/// Trusted roots already loaded, by instance name or resolved path, so
/// signers that share one load it once (`None`: it failed, already reported).
type Roots = HashMap<String, Option<Arc<TrustRoot>>>;

fn build_signers(cx: &mut Ctx<'_>, raw: &[Spanned<RawSigner>]) -> Vec<PolicySigner> {
    let mut seen: HashMap<String, Span> = HashMap::new();
    let mut roots = Roots::new();
    let mut out = Vec::new();
    for r in raw {
        let s = r.get_ref();
        let name = s.name.get_ref();
        if let Err(msg) = check_name(name) {
            cx.err(&s.name.span(), msg.replace("rule name", "signer name"));
            continue;
        }
        if let Some(first) = seen.get(name) {
            let (l, c) = cx.pos(first.start);
            cx.err(
                &s.name.span(),
                format!(
                    "duplicate signer name {}: first used at line {l}, column {c}",
                    quote(name)
                ),
            );
            continue;
        }
        seen.insert(name.clone(), s.name.span());
        if let Some(b) = build_signer(cx, r, &mut roots) {
            out.push(b);
        }
    }
    out
}

fn build_signer(
    cx: &mut Ctx<'_>,
    r: &Spanned<RawSigner>,
    roots: &mut Roots,
) -> Option<PolicySigner> {
    let s = r.get_ref();
    let ctx = format!("signer {}", quote(s.name.get_ref()));
    let trust_root = match &s.trusted_root {
        None => load_root(cx, &ctx, "public-good", &r.span(), roots),
        Some(t) => load_root(cx, &ctx, t.get_ref(), &t.span(), roots),
    };
    let signer = if let Some(key) = &s.key {
        let mut ok = true;
        for (field, span) in [
            ("identity", s.identity.as_ref().map(Spanned::span)),
            (
                "identity_regexp",
                s.identity_regexp.as_ref().map(Spanned::span),
            ),
            ("issuer", s.issuer.as_ref().map(Spanned::span)),
            ("issuer_regexp", s.issuer_regexp.as_ref().map(Spanned::span)),
        ] {
            if let Some(span) = span {
                cx.err(
                    &span,
                    format!(
                        "{ctx}: {field} is for keyless signers; a signer with a key is that key"
                    ),
                );
                ok = false;
            }
        }
        let path = cx.resolve(key.get_ref());
        let key = match (cx.read)(&path) {
            Err(e) => {
                cx.err(
                    &key.span(),
                    format!("{ctx}: cannot read key {}: {e}", path.display()),
                );
                None
            }
            Ok(pem) => match PublicKey::from_pem(&pem) {
                Ok(k) => Some(k),
                Err(e) => {
                    cx.err(&key.span(), format!("{ctx}: key {}: {e}", path.display()));
                    None
                }
            },
        };
        (ok).then_some(key).flatten().map(Signer::Key)
    } else {
        let identity = one_matcher(
            cx,
            &ctx,
            &r.span(),
            ("identity", &s.identity),
            ("identity_regexp", &s.identity_regexp),
        );
        let issuer = one_matcher(
            cx,
            &ctx,
            &r.span(),
            ("issuer", &s.issuer),
            ("issuer_regexp", &s.issuer_regexp),
        );
        match (identity, issuer) {
            (Some(identity), Some(issuer)) => Some(Signer::Keyless { identity, issuer }),
            _ => None,
        }
    };
    Some(PolicySigner {
        name: s.name.get_ref().clone(),
        line: cx.line(&s.name.span()),
        signer: signer?,
        trust_root: trust_root?,
    })
}

/// Exactly one of an exact value and an anchored regexp.
fn one_matcher(
    cx: &mut Ctx<'_>,
    ctx: &str,
    table: &Span,
    exact: (&str, &Option<Spanned<String>>),
    regexp: (&str, &Option<Spanned<String>>),
) -> Option<Matcher> {
    match (exact.1, regexp.1) {
        (Some(e), None) => Some(Matcher::Exact(e.get_ref().clone())),
        (None, Some(re)) => match Matcher::regex(re.get_ref()) {
            Ok(m) => Some(m),
            Err(e) => {
                cx.err(&re.span(), format!("{ctx}: {}: {e}", regexp.0));
                None
            }
        },
        (Some(_), Some(re)) => {
            cx.err(
                &re.span(),
                format!("{ctx}: give {} or {}, not both", exact.0, regexp.0),
            );
            None
        }
        (None, None) => {
            cx.err(
                table,
                format!(
                    "{ctx}: a keyless signer needs {} or {} (or key = \"….pub\" for a key)",
                    exact.0, regexp.0
                ),
            );
            None
        }
    }
}

/// An embedded instance by name, else a trusted_root.json path.
fn load_root(
    cx: &mut Ctx<'_>,
    ctx: &str,
    what: &str,
    span: &Span,
    roots: &mut Roots,
) -> Option<Arc<TrustRoot>> {
    let (key, loaded) = match Instance::from_name(what) {
        Some(i) => {
            let loaded = match roots.get(i.name()) {
                Some(r) => r.clone(),
                None => match TrustRoot::embedded(i) {
                    Ok(r) => Some(Arc::new(r)),
                    Err(e) => {
                        cx.err(span, format!("{ctx}: {e}"));
                        None
                    }
                },
            };
            (i.name().to_owned(), loaded)
        }
        None => {
            let path = cx.resolve(what);
            let key = path.display().to_string();
            let loaded = match roots.get(&key) {
                Some(r) => r.clone(),
                None => match (cx.read)(&path) {
                    Err(e) => {
                        cx.err(span, format!("{ctx}: cannot read trusted root {key}: {e}"));
                        None
                    }
                    Ok(json) => match TrustRoot::from_json(&key, &json) {
                        Ok(r) => Some(Arc::new(r)),
                        Err(e) => {
                            cx.err(span, format!("{ctx}: {e}"));
                            None
                        }
                    },
                },
            };
            (key, loaded)
        }
    };
    roots.insert(key, loaded.clone());
    loaded
}

/// Reads a file named by the policy (pins). Injected so tests need no disk.
pub(crate) type ReadFile<'a> = &'a dyn Fn(&Path) -> std::io::Result<String>;

struct Ctx<'a> {
    text: &'a str,
    origin: &'a str,
    base: &'a Path,
    read: ReadFile<'a>,
    diags: Vec<Diagnostic>,
    /// Parsed pin files by resolved path (`None`: unreadable or invalid).
    pin_files: HashMap<PathBuf, Option<Arc<PinSet>>>,
    /// The same paths, in the order first read.
    read_order: Vec<PathBuf>,
}

impl Ctx<'_> {
    fn pos(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        (line, before[line_start..].chars().count() + 1)
    }

    fn line(&self, span: &Span) -> usize {
        self.pos(span.start).0
    }

    fn err(&mut self, span: &Span, message: String) {
        let (line, column) = self.pos(span.start);
        self.diags.push(Diagnostic {
            file: self.origin.to_owned(),
            line,
            column,
            message,
        });
    }

    fn resolve(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }
}

/// Where a rule's proof was written, kept for cross-rule messages.
#[derive(Clone, Debug)]
struct SettingSpans {
    proof: Option<Span>,
}

/// A rule plus what the cross-rule checks need.
struct Built {
    rule: Rule,
    header: Span,
    spans: SettingSpans,
}

pub(crate) fn parse(
    text: &str,
    origin: &str,
    base: &Path,
    read: ReadFile<'_>,
) -> Result<Policy, PolicyError> {
    let mut cx = Ctx {
        text,
        origin,
        base,
        read,
        diags: Vec::new(),
        pin_files: HashMap::new(),
        read_order: Vec::new(),
    };
    let raw: RawPolicy = match toml::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            cx.err(&span, e.message().trim_end().to_owned());
            return Err(PolicyError::Invalid(cx.diags));
        }
    };

    let mode = match &raw.mode {
        None => Mode::Open,
        Some(m) => match m.get_ref().as_str() {
            "open" => Mode::Open,
            "allow-list" => Mode::AllowList,
            other => {
                cx.err(
                    &m.span(),
                    format!(
                        "mode: unknown mode {}: expected \"open\" or \"allow-list\"",
                        quote(other)
                    ),
                );
                Mode::Open
            }
        },
    };

    // [defaults]
    let empty = RawDefaults::default();
    let d = raw.defaults.as_ref().map_or(&empty, |d| d.get_ref());
    let ctx = "[defaults]";
    let d_proof = d
        .proof
        .as_ref()
        .and_then(|p| parse_proof(&mut cx, ctx, p, false));
    let d_pins = d.pins.as_ref().and_then(|p| load_pins(&mut cx, ctx, p));
    if let (Some(p), Some(span)) = (&d_proof, d.proof.as_ref().map(Spanned::span))
        && p.contains(&ProofKind::Signature)
    {
        cx.err(
            &span,
            format!(
                "{ctx}: proof \"signature\" is set per rule, with the signers it accepts and where signatures live: list it in an [[allow]] or [[private]] rule"
            ),
        );
    }
    let d_kinds = d_proof.unwrap_or_else(|| vec![ProofKind::Sumdb]);
    let defaults = Defaults {
        settings: Settings {
            proofs: required(&d_kinds, d_pins.clone(), None),
            max_zip_size: d
                .max_zip_size
                .as_ref()
                .and_then(|s| parse_size(&mut cx, ctx, s)),
            deny_retracted: d.deny_retracted.unwrap_or(false),
        },
        kinds: d_kinds,
        pins: d_pins,
    };
    let default_spans = SettingSpans {
        proof: d.proof.as_ref().map(Spanned::span),
    };
    if defaults.kinds.contains(&ProofKind::Pinned)
        && d.pins.is_none()
        && let Some(s) = &default_spans.proof
    {
        cx.err(
            s,
            format!("{ctx}: proof \"pinned\" needs pin files: set pins = [\"….sum\"]"),
        );
    }

    // Names: valid, unique across all sections.
    let mut seen: HashMap<String, Span> = HashMap::new();
    let names = raw
        .deny
        .iter()
        .map(|r| &r.get_ref().name)
        .chain(raw.allow.iter().map(|r| &r.get_ref().name))
        .chain(raw.private.iter().map(|r| &r.get_ref().name));
    let mut name_checks = Vec::new();
    for n in names {
        name_checks.push((n.get_ref().clone(), n.span()));
    }
    for (name, span) in name_checks {
        if let Err(msg) = check_name(&name) {
            cx.err(&span, msg);
        } else if let Some(first) = seen.get(&name) {
            let (l, c) = cx.pos(first.start);
            cx.err(
                &span,
                format!(
                    "duplicate rule name {}: first used at line {l}, column {c}",
                    quote(&name)
                ),
            );
        } else {
            seen.insert(name, span);
        }
    }

    let signers = build_signers(&mut cx, &raw.signer);
    let signer_names: Vec<String> = raw
        .signer
        .iter()
        .map(|s| s.get_ref().name.get_ref().clone())
        .collect();
    let mut deny = Vec::new();
    for r in &raw.deny {
        if let Some(b) = build_deny(&mut cx, r) {
            deny.push(b);
        }
    }
    let mut allow = Vec::new();
    for r in &raw.allow {
        if let Some(b) = build_allow(&mut cx, r, &defaults, &default_spans, &signer_names) {
            allow.push(b);
        }
    }
    let mut private = Vec::new();
    for r in &raw.private {
        if let Some(b) = build_private(&mut cx, r, &defaults, &signer_names) {
            private.push(b);
        }
    }
    let toolchain = raw
        .toolchain
        .as_ref()
        .and_then(|t| build_toolchain(&mut cx, t, &signer_names));

    cross_checks(
        &mut cx,
        mode,
        &deny,
        &allow,
        &private,
        &defaults,
        &default_spans,
        raw.toolchain.as_ref().map(Spanned::span),
    );

    if !cx.diags.is_empty() {
        let origin = origin.to_owned();
        cx.diags.sort_by(|a, b| {
            (a.file != origin, &a.file, a.line, a.column).cmp(&(
                b.file != origin,
                &b.file,
                b.line,
                b.column,
            ))
        });
        return Err(PolicyError::Invalid(cx.diags));
    }
    Ok(Policy {
        origin: origin.to_owned(),
        mode,
        defaults: defaults.settings,
        deny: deny.into_iter().map(|b| b.rule).collect(),
        allow: allow.into_iter().map(|b| b.rule).collect(),
        private: private.into_iter().map(|b| b.rule).collect(),
        toolchain,
        signers,
        read_files: cx.read_order,
    })
}

fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !ok {
        return Err(format!(
            "bad rule name {}: use 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit",
            quote(name)
        ));
    }
    if matches!(name, "default" | "toolchain") {
        return Err(format!(
            "rule name {} is reserved (decisions without a rule and the [toolchain] section use it)",
            quote(name)
        ));
    }
    Ok(())
}

fn parse_patterns(cx: &mut Ctx<'_>, ctx: &str, v: &Spanned<OneOrMany>) -> Option<Patterns> {
    let list = items(v);
    if list.is_empty() {
        cx.err(
            &v.span(),
            format!("{ctx}: modules is empty: the rule can never match"),
        );
        return None;
    }
    let mut globs = Vec::new();
    let mut ok = true;
    for (s, span) in list {
        for part in s.split(',') {
            match Glob::parse(part.trim()) {
                Ok(g) => globs.push(g),
                Err(msg) => {
                    cx.err(&span, format!("{ctx}: {msg}"));
                    ok = false;
                }
            }
        }
    }
    ok.then_some(Patterns { globs })
}

fn parse_kinds(
    cx: &mut Ctx<'_>,
    ctx: &str,
    v: &Spanned<OneOrMany>,
    scheme: Scheme,
) -> Option<KindSet> {
    let mut set = KindSet::NONE;
    let mut ok = true;
    for (s, span) in items(v) {
        let k = match s.as_str() {
            "release" => Kind::Release,
            "prerelease" => Kind::Prerelease,
            "pseudo" if scheme == Scheme::Module => Kind::Pseudo,
            "pseudo" => {
                cx.err(&span, format!("{ctx}: toolchains have no pseudo-versions"));
                ok = false;
                continue;
            }
            other => {
                let expected = if scheme == Scheme::Module {
                    "\"release\", \"prerelease\" or \"pseudo\""
                } else {
                    "\"release\" or \"prerelease\""
                };
                cx.err(
                    &span,
                    format!(
                        "{ctx}: unknown version kind {}: expected {expected}",
                        quote(other)
                    ),
                );
                ok = false;
                continue;
            }
        };
        if !set.insert(k) {
            cx.err(&span, format!("{ctx}: kind {} is listed twice", quote(&s)));
            ok = false;
        }
    }
    if ok && set.is_empty() {
        cx.err(
            &v.span(),
            format!("{ctx}: kinds is empty: the rule can never match"),
        );
        return None;
    }
    ok.then_some(set)
}

fn parse_filter(
    cx: &mut Ctx<'_>,
    ctx: &str,
    versions: Option<&Spanned<String>>,
    kinds: Option<&Spanned<OneOrMany>>,
) -> Option<Filter> {
    let mut f = Filter::all(Scheme::Module);
    let mut ok = true;
    if let Some(v) = versions {
        match Constraint::parse(v.get_ref(), Scheme::Module) {
            Ok(c) => f.constraint = Some(c),
            Err(msg) => {
                cx.err(&v.span(), format!("{ctx}: bad versions: {msg}"));
                ok = false;
            }
        }
    }
    if let Some(k) = kinds {
        match parse_kinds(cx, ctx, k, Scheme::Module) {
            Some(set) => f.kinds = set,
            None => ok = false,
        }
    }
    ok.then_some(f)
}

/// `None` on error (already reported).
fn parse_proof(
    cx: &mut Ctx<'_>,
    ctx: &str,
    v: &Spanned<OneOrMany>,
    private: bool,
) -> Option<Vec<ProofKind>> {
    let list = items(v);
    if list.is_empty() {
        cx.err(
            &v.span(),
            format!(
                "{ctx}: proof must name at least one kind: goward never serves unproven modules"
            ),
        );
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for (s, span) in list {
        let k = match s.as_str() {
            "sumdb" if private => {
                cx.err(
                    &span,
                    format!(
                        "{ctx}: private modules are never looked up in a public checksum database; use proof = [\"pinned\"]"
                    ),
                );
                ok = false;
                continue;
            }
            name => match ProofKind::from_name(name) {
                Some(k) => k,
                None => {
                    let known: Vec<String> =
                        ProofKind::ALL.iter().map(|k| quote(k.name())).collect();
                    cx.err(
                        &span,
                        format!(
                            "{ctx}: unknown proof kind {}: expected {}",
                            quote(name),
                            known.join(", ")
                        ),
                    );
                    ok = false;
                    continue;
                }
            },
        };
        if out.contains(&k) {
            cx.err(&span, format!("{ctx}: proof {} is listed twice", quote(&s)));
            ok = false;
        } else {
            out.push(k);
        }
    }
    // Always in the same order: sumdb first.
    out.sort_by_key(|k| *k != ProofKind::Sumdb);
    ok.then_some(out)
}

fn parse_size(cx: &mut Ctx<'_>, ctx: &str, v: &Spanned<Size>) -> Option<u64> {
    match v.get_ref().bytes() {
        Ok(0) => cx.err(
            &v.span(),
            format!("{ctx}: bad max_zip_size {}: must be positive", v.get_ref()),
        ),
        Ok(n) => return Some(n),
        Err(e) => cx.err(
            &v.span(),
            format!("{ctx}: bad max_zip_size {}: {e}", v.get_ref()),
        ),
    }
    None
}

/// Loads the pins files of a rule (each file parsed once per load).
fn load_pins(cx: &mut Ctx<'_>, ctx: &str, v: &Spanned<OneOrMany>) -> Option<Arc<PinSet>> {
    let list = items(v);
    if list.is_empty() {
        cx.err(&v.span(), format!("{ctx}: pins is empty"));
        return None;
    }
    let mut sets = Vec::new();
    let mut written = Vec::new();
    let mut ok = true;
    for (name, span) in list {
        let path = cx.resolve(&name);
        let set = match cx.pin_files.get(&path) {
            Some(s) => s.clone(),
            None => {
                let display = path.display().to_string();
                let parsed = match (cx.read)(&path) {
                    Err(e) => {
                        cx.err(
                            &span,
                            format!("{ctx}: reading pins file {}: {e}", quote(&display)),
                        );
                        None
                    }
                    Ok(text) => match PinSet::parse(&display, &text) {
                        Ok(s) => Some(Arc::new(s)),
                        Err(errs) => {
                            push_pin_errors(cx, errs);
                            None
                        }
                    },
                };
                cx.pin_files.insert(path.clone(), parsed.clone());
                cx.read_order.push(path.clone());
                parsed
            }
        };
        match set {
            Some(s) => sets.push(s),
            None => ok = false,
        }
        written.push(name);
    }
    if !ok {
        return None;
    }
    if sets.len() == 1 {
        let mut s = (*sets[0]).clone();
        s.files = written;
        return Some(Arc::new(s));
    }
    match PinSet::union(&sets) {
        Ok(mut s) => {
            s.files = written;
            Some(Arc::new(s))
        }
        Err(errs) => {
            push_pin_errors(cx, errs);
            None
        }
    }
}

fn push_pin_errors(cx: &mut Ctx<'_>, errs: Vec<(PinSite, String)>) {
    for (site, message) in errs {
        let d = Diagnostic {
            file: site.file,
            line: site.line,
            column: site.col,
            message,
        };
        if !cx.diags.contains(&d) {
            cx.diags.push(d);
        }
    }
}

fn build_deny(cx: &mut Ctx<'_>, r: &Spanned<RawDeny>) -> Option<Built> {
    let raw = r.get_ref();
    let ctx = format!("rule {}", quote(raw.name.get_ref()));
    let patterns = parse_patterns(cx, &ctx, &raw.modules);
    let filter = parse_filter(cx, &ctx, raw.versions.as_ref(), raw.kinds.as_ref());
    let reason = raw.reason.get_ref().trim();
    if reason.is_empty() {
        cx.err(
            &raw.reason.span(),
            format!("{ctx}: reason is empty: say why, it is shown to the user who is denied"),
        );
        return None;
    }
    Some(Built {
        rule: Rule {
            section: Section::Deny,
            name: raw.name.get_ref().clone(),
            line: cx.line(&r.span()),
            patterns: patterns?,
            filter: filter?,
            reason: Some(reason.to_owned()),
            settings: Settings {
                proofs: Vec::new(),
                max_zip_size: None,
                deny_retracted: false,
            },
            route: None,
            access: None,
        },
        header: r.span(),
        spans: SettingSpans { proof: None },
    })
}

/// `[defaults]` as the rules inherit it.
struct Defaults {
    /// Its settings, which decide what no rule matches.
    settings: Settings,
    /// Its proof kinds, which a rule without `proof` inherits.
    kinds: Vec<ProofKind>,
    /// Its pins, which a rule that requires "pinned" and names no pins
    /// inherits (whether or not `[defaults]` itself requires "pinned").
    pins: Option<Arc<PinSet>>,
}

/// The requirement of each of a rule's proof kinds, with the pins and the
/// signature setting the rule resolved (each present when its kind is
/// required, or the rule was refused).
fn required(
    kinds: &[ProofKind],
    pins: Option<Arc<PinSet>>,
    signature: Option<Arc<SignatureSetting>>,
) -> Vec<RequiredProof> {
    kinds
        .iter()
        .map(|k| match k {
            ProofKind::Sumdb => RequiredProof::Sumdb(sumdb::Requirement),
            ProofKind::Pinned => RequiredProof::Pinned(pinned::Requirement {
                pins: pins.clone().unwrap_or_default(),
            }),
            ProofKind::Signature => {
                RequiredProof::Signature(signature.as_deref().cloned().unwrap_or_default())
            }
        })
        .collect()
}

/// Resolves a rule's settings over `[defaults]` and checks proof/pins
/// consistency.
#[allow(clippy::too_many_arguments)]
fn settings(
    cx: &mut Ctx<'_>,
    ctx: &str,
    proof: Option<&Spanned<OneOrMany>>,
    pins: Option<&Spanned<OneOrMany>>,
    sig: SigFields<'_>,
    max_zip_size: Option<&Spanned<Size>>,
    deny_retracted: Option<bool>,
    defaults: &Defaults,
    default_spans: &SettingSpans,
    private: bool,
    signer_names: &[String],
) -> Option<(Settings, SettingSpans)> {
    let mut ok = true;
    let proofs = match proof {
        Some(p) => match parse_proof(cx, ctx, p, private) {
            Some(v) => v,
            None => {
                ok = false;
                Vec::new()
            }
        },
        None if private => vec![ProofKind::Pinned],
        None => defaults.kinds.clone(),
    };
    let own_pins = match pins {
        Some(p) => match load_pins(cx, ctx, p) {
            Some(s) => Some(s),
            None => {
                ok = false;
                None
            }
        },
        None => None,
    };
    let size = match max_zip_size {
        Some(s) => match parse_size(cx, ctx, s) {
            Some(n) => Some(n),
            None => {
                ok = false;
                None
            }
        },
        None => defaults.settings.max_zip_size,
    };
    if !ok {
        return None;
    }
    let wants_pins = proofs.contains(&ProofKind::Pinned);
    if let (Some(p), false) = (pins, wants_pins) {
        cx.err(
            &p.span(),
            format!(
                "{ctx}: pins are only used with proof \"pinned\", which this rule does not require"
            ),
        );
        return None;
    }
    let signature = signature_setting(cx, ctx, &proofs, proof, sig, signer_names)?;
    let pins_resolved = own_pins.or_else(|| defaults.pins.clone());
    if wants_pins && pins_resolved.is_none() {
        let span = proof
            .map(Spanned::span)
            .or_else(|| default_spans.proof.clone())
            .unwrap_or(0..0);
        let msg = if private {
            format!(
                "{ctx}: a private rule needs pins = [\"….sum\"]: its modules can only be proven by pinned hashes"
            )
        } else {
            format!("{ctx}: proof \"pinned\" needs pin files: set pins here or in [defaults]")
        };
        cx.err(&span, msg);
        return None;
    }
    Some((
        Settings {
            proofs: required(&proofs, pins_resolved, signature),
            max_zip_size: size,
            deny_retracted: deny_retracted.unwrap_or(defaults.settings.deny_retracted),
        },
        SettingSpans {
            proof: proof.map(Spanned::span).or_else(|| {
                if private {
                    None
                } else {
                    default_spans.proof.clone()
                }
            }),
        },
    ))
}

/// A rule's `signers`, `signatures` and `signed` keys.
type SigFields<'a> = (
    Option<&'a Spanned<OneOrMany>>,
    Option<&'a Spanned<String>>,
    Option<&'a Spanned<String>>,
);

/// A rule's `signers`, `signatures` and `signed`: the first two required
/// with proof "signature" (each signer declared, the location a valid
/// template), all refused without it. `None` on error (already reported).
fn signature_setting(
    cx: &mut Ctx<'_>,
    ctx: &str,
    proofs: &[ProofKind],
    proof: Option<&Spanned<OneOrMany>>,
    sig: SigFields<'_>,
    signer_names: &[String],
) -> Option<Option<Arc<SignatureSetting>>> {
    let (signers, location, signed) = sig;
    if !proofs.contains(&ProofKind::Signature) {
        let stray = signers
            .map(|s| ("signers", s.span()))
            .or_else(|| location.map(|l| ("signatures", l.span())))
            .or_else(|| signed.map(|l| ("signed", l.span())));
        if let Some((field, span)) = stray {
            cx.err(
                &span,
                format!(
                    "{ctx}: {field} is only used with proof \"signature\", which this rule does not require"
                ),
            );
            return None;
        }
        return Some(None);
    }
    let at = proof.map(Spanned::span).unwrap_or(0..0);
    let mut ok = true;
    let mode = match signed {
        None => SignedMode::Zip,
        Some(m) => SignedMode::parse(m.get_ref()).unwrap_or_else(|| {
            cx.err(
                &m.span(),
                format!(
                    "{ctx}: signed = {} is not a mode: \"zip\" (the zip's bytes) or \"gosum\" (the version's go.sum lines)",
                    quote(m.get_ref())
                ),
            );
            ok = false;
            SignedMode::Zip
        }),
    };
    // Without "sumdb" or "pinned" the go.mod is proven by the signature
    // too: signed go.sum lines name its h1:, a signed zip holds its bytes.
    let mut names = Vec::new();
    match signers {
        None => {
            cx.err(
                &at,
                format!(
                    "{ctx}: proof \"signature\" needs signers = [\"…\"]: the [[signer]]s it accepts"
                ),
            );
            ok = false;
        }
        Some(list) => {
            let items = items(list);
            if items.is_empty() {
                cx.err(&list.span(), format!("{ctx}: signers is empty"));
                ok = false;
            }
            for (name, span) in items {
                if !signer_names.contains(&name) {
                    cx.err(
                        &span,
                        format!("{ctx}: no [[signer]] is called {}", quote(&name)),
                    );
                    ok = false;
                } else if names.contains(&name) {
                    cx.err(
                        &span,
                        format!("{ctx}: signer {} is listed twice", quote(&name)),
                    );
                    ok = false;
                } else {
                    names.push(name);
                }
            }
        }
    }
    match location {
        None => {
            cx.err(
                &at,
                format!(
                    "{ctx}: proof \"signature\" needs signatures = \"file:///…/{{module}}/@v/{{version}}{{file}}.sig\" (or https://… or upstream:…): where the signatures live"
                ),
            );
            ok = false;
        }
        Some(l) => {
            if let Err(msg) = check_location(l.get_ref()) {
                cx.err(&l.span(), format!("{ctx}: bad signatures location: {msg}"));
                ok = false;
            }
        }
    }
    let location = location?.get_ref().clone();
    ok.then(|| {
        Some(Arc::new(SignatureSetting {
            signers: names,
            location,
            signed: mode,
        }))
    })
}

fn build_allow(
    cx: &mut Ctx<'_>,
    r: &Spanned<RawAllow>,
    defaults: &Defaults,
    default_spans: &SettingSpans,
    signer_names: &[String],
) -> Option<Built> {
    let raw = r.get_ref();
    let ctx = format!("rule {}", quote(raw.name.get_ref()));
    let patterns = parse_patterns(cx, &ctx, &raw.modules);
    let filter = parse_filter(cx, &ctx, raw.versions.as_ref(), raw.kinds.as_ref());
    let settings = settings(
        cx,
        &ctx,
        raw.proof.as_ref(),
        raw.pins.as_ref(),
        (
            raw.signers.as_ref(),
            raw.signatures.as_ref(),
            raw.signed.as_ref(),
        ),
        raw.max_zip_size.as_ref(),
        raw.deny_retracted,
        defaults,
        default_spans,
        false,
        signer_names,
    );
    let access = parse_access(cx, &ctx, raw.users.as_ref(), raw.groups.as_ref());
    let (settings, spans) = settings?;
    Some(Built {
        rule: Rule {
            section: Section::Allow,
            name: raw.name.get_ref().clone(),
            line: cx.line(&r.span()),
            patterns: patterns?,
            filter: filter?,
            reason: raw.reason.clone(),
            settings,
            route: None,
            access: access?,
        },
        header: r.span(),
        spans,
    })
}

fn build_private(
    cx: &mut Ctx<'_>,
    r: &Spanned<RawPrivate>,
    defaults: &Defaults,
    signer_names: &[String],
) -> Option<Built> {
    let raw = r.get_ref();
    let ctx = format!("rule {}", quote(raw.name.get_ref()));
    let patterns = parse_patterns(cx, &ctx, &raw.modules);
    let no_spans = SettingSpans { proof: None };
    let settings = settings(
        cx,
        &ctx,
        raw.proof.as_ref(),
        raw.pins.as_ref(),
        (
            raw.signers.as_ref(),
            raw.signatures.as_ref(),
            raw.signed.as_ref(),
        ),
        raw.max_zip_size.as_ref(),
        raw.deny_retracted,
        defaults,
        &no_spans,
        true,
        signer_names,
    );
    let entries = match validate_upstream(raw.upstream.get_ref()) {
        Ok(e) => Some(e),
        Err(msg) => {
            cx.err(&raw.upstream.span(), format!("{ctx}: {msg}"));
            None
        }
    };
    let auth = match &raw.auth {
        None => Some(None),
        Some(a) => parse_auth(cx, &ctx, a).map(Some),
    };
    if let (Some(entries), Some(Some(_))) = (&entries, &auth)
        && let Some(e) = entries
            .iter()
            .find(|e| e.parsed.scheme() == "http" && !is_loopback(&e.parsed))
    {
        cx.err(
            &raw.upstream.span(),
            format!(
                "{ctx}: credentials would be sent in clear text to {}; use https://",
                quote(&e.url)
            ),
        );
        return None;
    }
    let access = parse_access(cx, &ctx, raw.users.as_ref(), raw.groups.as_ref());
    let (settings, spans) = settings?;
    let (_, auth, access) = (entries?, auth?, access?);
    let name = raw.name.get_ref().clone();
    Some(Built {
        rule: Rule {
            section: Section::Private,
            name: name.clone(),
            line: cx.line(&r.span()),
            patterns: patterns?,
            filter: Filter::all(Scheme::Module),
            reason: raw.reason.clone(),
            settings,
            route: Some(PrivateRoute {
                rule: name,
                upstream: raw.upstream.get_ref().trim().to_owned(),
                auth,
            }),
            access,
        },
        header: r.span(),
        spans,
    })
}

/// A rule's `users` and `groups`: who may fetch what it matches (the
/// identities of `--auth-file`). `Some(None)`: anyone; `None`: an error was
/// reported.
fn parse_access(
    cx: &mut Ctx<'_>,
    ctx: &str,
    users: Option<&Spanned<OneOrMany>>,
    groups: Option<&Spanned<OneOrMany>>,
) -> Option<Option<Arc<Access>>> {
    if users.is_none() && groups.is_none() {
        return Some(None);
    }
    let mut ok = true;
    let mut names = |field: &str, v: Option<&Spanned<OneOrMany>>| -> Vec<String> {
        let mut out = Vec::new();
        for (name, span) in v.map(items).unwrap_or_default() {
            if !crate::auth::valid_name(&name) {
                cx.err(
                    &span,
                    format!(
                        "{ctx}: {field} entry {}: use 1 to 64 letters, digits, '-', '_', '.' or '@'",
                        quote(&name)
                    ),
                );
                ok = false;
            } else if out.contains(&name) {
                cx.err(
                    &span,
                    format!("{ctx}: {field} lists {} twice", quote(&name)),
                );
                ok = false;
            } else {
                out.push(name);
            }
        }
        out
    };
    let span = users.or(groups).map(Spanned::span);
    let users = names("users", users);
    let groups = names("groups", groups);
    if ok
        && users.is_empty()
        && groups.is_empty()
        && let Some(span) = span
    {
        cx.err(
            &span,
            format!("{ctx}: users and groups are empty, so no one could fetch what it matches"),
        );
        ok = false;
    }
    ok.then(|| Some(Arc::new(Access { users, groups })))
}

fn is_loopback(url: &reqwest::Url) -> bool {
    matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
}

/// Checks a private rule's GOPROXY-style list with the parser of `--upstream`
/// ([`upstream::parse_spec`]), so that a list accepted here cannot fail when
/// the service builds the route; then the policy's own rule: no credentials
/// in a URL (secrets never go in a policy file).
fn validate_upstream(spec: &str) -> Result<Vec<upstream::SpecEntry>, String> {
    use upstream::UpstreamConfigError as E;
    let entries = upstream::parse_spec(spec).map_err(|e| match e {
        E::Off => "upstream \"off\" would serve nothing; give the private proxy's URL".to_owned(),
        E::Direct => {
            "upstream \"direct\" is not supported: goward does not fetch from version control"
                .to_owned()
        }
        E::Empty { .. } => {
            "upstream is empty: a private rule needs its own upstream proxy".to_owned()
        }
        E::MissingScheme { entry } | E::Scheme { entry, .. } => format!(
            "bad upstream {}: expected an http://, https:// or file:// URL",
            quote(&entry)
        ),
        other => other.to_string(),
    })?;
    if let Some(e) = entries
        .iter()
        .find(|e| !e.parsed.username().is_empty() || e.parsed.password().is_some())
    {
        return Err(format!(
            "upstream {} has credentials in the URL; secrets never go in a policy: use auth with token_env, token_file, password_env, password_file or a netrc file",
            quote(&e.url)
        ));
    }
    Ok(entries)
}

fn parse_auth(cx: &mut Ctx<'_>, ctx: &str, a: &Spanned<RawAuth>) -> Option<Auth> {
    let raw = a.get_ref();
    for (field, v) in [("token", &raw.token), ("password", &raw.password)] {
        if let Some(v) = v {
            cx.err(
                &v.span(),
                format!(
                    "{ctx}: inline secrets are not allowed in a policy: use {field}_env (an environment variable) or {field}_file instead of {field}"
                ),
            );
            return None;
        }
    }
    let kind = raw.kind.get_ref().as_str();
    let fields: [(&str, &Option<Spanned<String>>); 6] = [
        ("token_env", &raw.token_env),
        ("token_file", &raw.token_file),
        ("username", &raw.username),
        ("password_env", &raw.password_env),
        ("password_file", &raw.password_file),
        ("file", &raw.file),
    ];
    let allowed: &[&str] = match kind {
        "bearer" => &["token_env", "token_file"],
        "basic" => &["username", "password_env", "password_file"],
        "netrc" => &["file"],
        other => {
            cx.err(
                &raw.kind.span(),
                format!(
                    "{ctx}: unknown auth type {}: expected \"bearer\", \"basic\" or \"netrc\"",
                    quote(other)
                ),
            );
            return None;
        }
    };
    let mut ok = true;
    for (name, v) in fields {
        if let Some(v) = v
            && !allowed.contains(&name)
        {
            cx.err(
                &v.span(),
                format!("{ctx}: auth type {} does not take {name}", quote(kind)),
            );
            ok = false;
        }
    }
    if !ok {
        return None;
    }
    let mut secret =
        |what: &str, env: &Option<Spanned<String>>, file: &Option<Spanned<String>>| match (
            env, file,
        ) {
            (Some(e), None) => {
                let name = e.get_ref();
                let valid = !name.is_empty()
                    && !name.as_bytes()[0].is_ascii_digit()
                    && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                if valid {
                    Some(Secret::Env(name.clone()))
                } else {
                    cx.err(
                        &e.span(),
                        format!(
                            "{ctx}: {what}_env must name an environment variable, not {}",
                            quote(name)
                        ),
                    );
                    None
                }
            }
            (None, Some(f)) if !f.get_ref().is_empty() => {
                Some(Secret::File(cx.resolve(f.get_ref())))
            }
            (None, Some(f)) => {
                cx.err(&f.span(), format!("{ctx}: {what}_file is empty"));
                None
            }
            (Some(_), Some(f)) => {
                cx.err(
                    &f.span(),
                    format!("{ctx}: give either {what}_env or {what}_file, not both"),
                );
                None
            }
            (None, None) => {
                cx.err(
                    &a.span(),
                    format!(
                        "{ctx}: auth type {} needs {what}_env or {what}_file",
                        quote(kind)
                    ),
                );
                None
            }
        };
    match kind {
        "bearer" => Some(Auth::Bearer {
            token: secret("token", &raw.token_env, &raw.token_file)?,
        }),
        "basic" => {
            let password = secret("password", &raw.password_env, &raw.password_file)?;
            match &raw.username {
                Some(u) if !u.get_ref().is_empty() => Some(Auth::Basic {
                    username: u.get_ref().clone(),
                    password,
                }),
                _ => {
                    cx.err(
                        &a.span(),
                        format!("{ctx}: auth type \"basic\" needs username"),
                    );
                    None
                }
            }
        }
        _ => match &raw.file {
            Some(f) if !f.get_ref().is_empty() => Some(Auth::Netrc {
                file: cx.resolve(f.get_ref()),
            }),
            _ => {
                cx.err(&a.span(), format!("{ctx}: auth type \"netrc\" needs file"));
                None
            }
        },
    }
}

fn build_toolchain(
    cx: &mut Ctx<'_>,
    t: &Spanned<RawToolchain>,
    signer_names: &[String],
) -> Option<ToolchainRules> {
    let raw = t.get_ref();
    let ctx = "[toolchain]";
    let mut ok = true;
    // proof: the checksum database always, and a signature on top if listed
    // (an organisation re-signing the toolchains it approved).
    let proofs = match &raw.proof {
        None => Some(vec![ProofKind::Sumdb]),
        Some(p) => parse_proof(cx, ctx, p, false).filter(|kinds| {
            let fine = kinds.contains(&ProofKind::Sumdb) && !kinds.contains(&ProofKind::Pinned);
            if !fine {
                cx.err(
                    &p.span(),
                    format!(
                        "{ctx}: proof is [\"sumdb\"] or [\"sumdb\", \"signature\"]: toolchains are always proven in the checksum database, and may need a signature too"
                    ),
                );
            }
            fine
        }),
    };
    let signature = match &proofs {
        Some(kinds) => signature_setting(
            cx,
            ctx,
            kinds,
            raw.proof.as_ref(),
            (
                raw.signers.as_ref(),
                raw.signatures.as_ref(),
                raw.signed.as_ref(),
            ),
            signer_names,
        ),
        None => None,
    };
    if let (Some(Some(s)), Some(m)) = (&signature, &raw.signed)
        && s.signed == SignedMode::Gosum
    {
        cx.err(
            &m.span(),
            format!(
                "{ctx}: signed = \"gosum\" is for modules: a toolchain's go.mod is proven by the checksum database, so sign the zip (signed = \"zip\")"
            ),
        );
        ok = false;
    }
    let min = match &raw.min_version {
        Some(m) => match version::parse_version(m.get_ref(), Scheme::Go) {
            Ok(v) => Some((v, m.span())),
            Err(msg) => {
                cx.err(&m.span(), format!("{ctx}: bad min_version: {msg}"));
                ok = false;
                None
            }
        },
        None => None,
    };
    let versions = match &raw.versions {
        Some(v) => match Constraint::parse(v.get_ref(), Scheme::Go) {
            Ok(c) => Some((c, v.span())),
            Err(msg) => {
                cx.err(&v.span(), format!("{ctx}: bad versions: {msg}"));
                ok = false;
                None
            }
        },
        None => None,
    };
    if let (Some((m, _)), Some((c, span))) = (&min, &versions)
        && c.clone().with_min(m).is_none()
    {
        cx.err(
            span,
            format!(
                "{ctx}: no version satisfies both min_version go{m} and versions {c}: no toolchain can ever be served"
            ),
        );
        ok = false;
    }
    let kinds = match &raw.kinds {
        Some(k) => parse_kinds(cx, ctx, k, Scheme::Go),
        None => Some(KindSet::all(Scheme::Go)),
    };
    let platforms = match &raw.platforms {
        None => Some(None),
        Some(p) => {
            let list = items(p);
            if list.is_empty() {
                cx.err(
                    &p.span(),
                    format!("{ctx}: platforms is empty: no toolchain can ever be served"),
                );
                None
            } else {
                let mut out = Vec::new();
                for (s, span) in list {
                    match PlatformGlob::parse(&s) {
                        Ok(g) => out.push(g),
                        Err(msg) => {
                            cx.err(&span, format!("{ctx}: {msg}"));
                            ok = false;
                        }
                    }
                }
                Some(Some(out))
            }
        }
    };
    if !ok {
        return None;
    }
    Some(ToolchainRules {
        line: cx.line(&t.span()),
        min_version: min.map(|m| m.0),
        versions: versions.map(|v| v.0),
        kinds: kinds?,
        platforms: platforms?,
        signature: signature?,
    })
}

fn at(cx: &Ctx<'_>, b: &Built) -> String {
    format!("line {}", cx.line(&b.header))
}

#[allow(clippy::too_many_arguments)]
fn cross_checks(
    cx: &mut Ctx<'_>,
    mode: Mode,
    deny: &[Built],
    allow: &[Built],
    private: &[Built],
    defaults: &Defaults,
    default_spans: &SettingSpans,
    toolchain_span: Option<Span>,
) {
    let covers = |a: &Rule, b: &Rule| a.patterns.covers(&b.patterns) && a.filter.covers(&b.filter);
    let disjoint =
        |a: &Rule, b: &Rule| a.patterns.disjoint(&b.patterns) || a.filter.disjoint(&b.filter);
    let never = "can never apply";

    for (i, d) in deny.iter().enumerate() {
        if let Some(e) = deny[..i].iter().find(|e| covers(&e.rule, &d.rule)) {
            let msg = format!(
                "rule {}: {never}: everything it matches is already denied by rule {} ({})",
                quote(&d.rule.name),
                quote(&e.rule.name),
                at(cx, e)
            );
            cx.err(&d.header, msg);
            continue;
        }
        if mode == Mode::AllowList
            && allow
                .iter()
                .chain(private)
                .all(|a| disjoint(&a.rule, &d.rule))
        {
            let msg = format!(
                "rule {}: {never}: in allow-list mode nothing it matches is allowed by an [[allow]] or [[private]] rule, so it is denied anyway",
                quote(&d.rule.name)
            );
            cx.err(&d.header, msg);
        }
    }
    for (i, p) in private.iter().enumerate() {
        let name = quote(&p.rule.name);
        if let Some(e) = deny.iter().find(|e| covers(&e.rule, &p.rule)) {
            let msg = format!(
                "rule {name}: {never}: everything it matches is denied by rule {} ({}); deny always wins",
                quote(&e.rule.name),
                at(cx, e)
            );
            cx.err(&p.header, msg);
        } else if let Some(e) = private[..i].iter().find(|e| covers(&e.rule, &p.rule)) {
            let msg = format!(
                "rule {name}: {never}: everything it matches is matched first by private rule {} ({})",
                quote(&e.rule.name),
                at(cx, e)
            );
            cx.err(&p.header, msg);
        }
        if p.rule.patterns.matches(TOOLCHAIN_MODULE) {
            let msg = format!(
                "rule {name}: {TOOLCHAIN_MODULE} can never be private: Go toolchains must always be proven in the checksum database; narrow the modules pattern"
            );
            cx.err(&p.header, msg);
        }
    }
    for (i, a) in allow.iter().enumerate() {
        let name = quote(&a.rule.name);
        if let Some(e) = deny.iter().find(|e| covers(&e.rule, &a.rule)) {
            let msg = format!(
                "rule {name}: {never}: everything it matches is denied by rule {} ({}); deny always wins",
                quote(&e.rule.name),
                at(cx, e)
            );
            cx.err(&a.header, msg);
            continue;
        }
        if let Some(e) = allow[..i].iter().find(|e| covers(&e.rule, &a.rule)) {
            let msg = format!(
                "rule {name}: {never}: everything it matches is matched first by rule {} ({}); put the more specific rule first",
                quote(&e.rule.name),
                at(cx, e)
            );
            cx.err(&a.header, msg);
            continue;
        }
        if let Some(e) = private.iter().find(|e| covers(&e.rule, &a.rule)) {
            let msg = format!(
                "rule {name}: {never}: every module it matches is private (rule {}, {}), and private modules take their settings from their [[private]] rule",
                quote(&e.rule.name),
                at(cx, e)
            );
            cx.err(&a.header, msg);
            continue;
        }
        if a.rule.patterns.matches(TOOLCHAIN_MODULE) && !a.rule.settings.requires(ProofKind::Sumdb)
        {
            let span = a.spans.proof.clone().unwrap_or_else(|| a.header.clone());
            let msg = format!(
                "rule {name}: its proof would turn off checksum-database proof for {TOOLCHAIN_MODULE}, which no policy may do: add \"sumdb\", or narrow the modules pattern"
            );
            cx.err(&span, msg);
        }
    }
    // Does [defaults] decide some toolchain versions?
    let toolchain_fully_allowed = allow
        .iter()
        .any(|a| a.rule.patterns.matches(TOOLCHAIN_MODULE) && a.rule.filter.is_all());
    if mode == Mode::Open && !toolchain_fully_allowed && !defaults.kinds.contains(&ProofKind::Sumdb)
    {
        let span = default_spans.proof.clone().unwrap_or(0..0);
        cx.err(
            &span,
            format!(
                "[defaults]: this proof applies to {TOOLCHAIN_MODULE}, which must always be proven in the checksum database: add \"sumdb\", or add an [[allow]] rule for {TOOLCHAIN_MODULE} with proof = [\"sumdb\"]"
            ),
        );
    }
    if mode == Mode::AllowList
        && let Some(span) = toolchain_span
        && !allow
            .iter()
            .any(|a| a.rule.patterns.matches(TOOLCHAIN_MODULE))
    {
        cx.err(
            &span,
            format!(
                "[toolchain]: {never}: in allow-list mode no [[allow]] rule matches {TOOLCHAIN_MODULE}, so every toolchain is denied"
            ),
        );
    }
}
