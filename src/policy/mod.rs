//! Declarative policy: which modules and toolchains goward may serve, and
//! what must be proven about each before it is stored or served.
//!
//! A policy is a TOML file (reference: `policy/README.md`) loaded once by
//! [`Policy::load`] / [`Policy::parse`]; every mistake in it — unknown
//! fields, bad patterns or versions, rules that can never apply, a proof kind
//! goward cannot check yet, secrets written inline — is rejected at load
//! with file, line and column. Evaluation ([`Policy::decide`],
//! [`Policy::decide_artifact`], `Policy::decide_toolchain`,
//! [`Policy::explain`], [`Policy::pinned_h1`]) is pure: no I/O, no clock, no
//! environment, so one loaded policy answers the same question the same way
//! until it is replaced.
//!
//! How rules combine (the "precedence" of the README, tested by the truth
//! tables in `tests.rs`):
//!
//! 1. **Deny always wins.** Every `[[deny]]` rule is consulted; if any
//!    selects the module version, it is denied, and the first such rule in
//!    file order names the reason. Then the `[toolchain]` limits, for
//!    `golang.org/toolchain`.
//! 2. **Private rules route.** The first `[[private]]` rule whose pattern
//!    matches makes the path private: its own upstream, its own credentials,
//!    pinned proof, never a public checksum-database lookup. A private path
//!    takes all its settings from that rule; `[[allow]]` rules do not apply
//!    to it. Private rules have no version filter: routing depends on the
//!    path alone, so `@v/list` goes where the versions go.
//! 3. **The first matching `[[allow]]` rule supplies the settings** (proof,
//!    pins, zip limit, retracted switch); a setting it does not give comes
//!    from `[defaults]`. File order is the precedence, as in a firewall:
//!    put specific rules before broad ones. A rule that an earlier one
//!    completely covers is rejected at load as unreachable.
//! 4. **Allow-list mode** denies whatever no `[[allow]]` or `[[private]]`
//!    rule matches. In open mode (the default) such a module is allowed
//!    with the `[defaults]` settings.
//! 5. **Pinned proof** denies a version whose hashes are not pinned.
//!
//! Version-less requests (`@v/list`, `@latest`) are decided by the rules
//! without `versions`/`kinds`; version filters only decide concrete
//! versions.

pub(crate) mod cli;
mod parse;
pub(crate) mod retract;
pub(crate) mod rules;
pub(crate) mod version;

#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::artifact::{ArtifactKind, H1};
pub(crate) use crate::verify::proof::signature::kind::SignedMode;
use crate::xmod::semver;

use crate::verify::proof::pinned::pins::PinSet;
use rules::{Patterns, PlatformGlob};
use version::{Constraint, Filter, KindSet, Scheme};

/// The module path of Go toolchains.
pub(crate) const TOOLCHAIN_MODULE: &str = "golang.org/toolchain";

/// The embedded default policy (`policy/default.toml`).
pub(crate) const DEFAULT_POLICY: &str = include_str!("../../policy/default.toml");

/// One load error, with its position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Diagnostic {
    /// The file (the policy, or a pins file it names).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// Why a policy was rejected.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PolicyError {
    /// The policy file could not be read.
    #[error("reading policy file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The policy is invalid; every problem found, in file order.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Diagnostic>),
}

impl PolicyError {
    /// The problems with positions (empty for [`PolicyError::Read`]).
    #[cfg(test)]
    pub(crate) fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            PolicyError::Read { .. } => &[],
            PolicyError::Invalid(d) => d,
        }
    }
}

/// Whether unlisted modules are served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Anything not denied is served (with the `[defaults]` settings).
    Open,
    /// Only what an `[[allow]]` or `[[private]]` rule matches is served.
    AllowList,
}

impl Mode {
    /// The spelling in the file.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Mode::Open => "open",
            Mode::AllowList => "allow-list",
        }
    }
}

/// A kind of proof a policy can require: the kinds goward verifies
/// ([`crate::verify::proof`]).
pub(crate) use crate::verify::ProofKind;

/// What must be proven about an artifact: one kind with what the rule
/// says of it ([`crate::verify::proof`]).
pub(crate) use crate::verify::proof::RequiredProof;
/// A `signature` requirement as its proof kind reads it.
pub(crate) use crate::verify::proof::signature::kind::Requirement as SignatureRequirement;
use crate::verify::proof::{Recorded, Satisfying, sumdb};

pub(crate) use crate::upstream::auth::{Auth, Secret};

/// How a private path is fetched. A path with a route is never looked up
/// in a public checksum database and never fetched from the public upstream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PrivateRoute {
    /// The `[[private]]` rule.
    pub rule: String,
    /// A GOPROXY-style list (`,` / `|`), validated like `--upstream`.
    pub upstream: String,
    /// Credentials, if the upstream needs them.
    pub auth: Option<Auth>,
}

/// The answer to "may this be served, and what must be proven first?".
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Decision {
    /// Whether it may be served.
    pub allowed: bool,
    /// The rule that decided: a deny rule, the `[[allow]]`/`[[private]]`
    /// rule that matched, `toolchain` for the `[toolchain]` limits; `None`
    /// when no rule matched (open-mode defaults, or not on the allow-list).
    pub rule: Option<String>,
    /// One line for logs and for the go command's user, e.g. `denied by
    /// policy rule "no-vulnerable-yaml": gopkg.in/yaml.v2@v2.2.1 is in range
    /// < v2.2.8 (CVE-2019-11254)`.
    pub reason: String,
    /// What must be proven (all of it); empty when denied.
    pub proofs: Vec<RequiredProof>,
    /// Set for private paths, whether allowed or denied: fetch from here,
    /// never from the public upstream, and never ask a public checksum
    /// database about this path.
    pub private: Option<PrivateRoute>,
    /// Zip size limit of the deciding rule (the server's own limit applies
    /// as well; the smaller wins).
    pub max_zip_size: Option<u64>,
    /// Deny versions retracted by the module's latest go.mod.
    pub deny_retracted: bool,
}

impl Decision {
    /// A stable label for logs and metrics: the rule name, or `default`.
    pub(crate) fn rule_label(&self) -> &str {
        self.rule.as_deref().unwrap_or("default")
    }

    /// Whether a public checksum database may be asked about this path.
    #[cfg(test)]
    pub(crate) fn public_sumdb_lookup(&self) -> bool {
        self.private.is_none()
            && self
                .proofs
                .contains(&RequiredProof::Sumdb(sumdb::Requirement))
    }

    /// The signature requirement that proves the go.mod, if one does
    /// ([`crate::verify::proof::signature::kind::proving_go_mod`]): signed
    /// go.sum lines always; a signed zip when no other required kind
    /// proves the go.mod itself.
    pub(crate) fn go_mod_signature(&self) -> Option<&SignatureRequirement> {
        let other = self.proofs.iter().any(|p| p.kind().proves_go_mod());
        crate::verify::proof::signature::kind::proving_go_mod(
            self.proofs.iter().filter_map(RequiredProof::signature),
            other,
        )
    }
}

/// Whether the zip decided by `zd` can prove the go.mod decided by `mod_d`
/// through its signature ([`Decision::go_mod_signature`]): the zip's rule
/// must require the same kind of signature, by signers the go.mod's rule
/// accepts ([`crate::verify::proof::signature::kind::zip_covers_go_mod`]).
/// One policy rule decides both artifacts today (rules select by path and
/// version), so this guards the pairing rather than a case a policy file
/// can write.
pub(crate) fn zip_proves_go_mod(mod_d: &Decision, zd: &Decision) -> Result<(), String> {
    crate::verify::proof::signature::kind::zip_covers_go_mod(
        mod_d.go_mod_signature(),
        zd.proofs.iter().filter_map(RequiredProof::signature),
        (mod_d.rule_label(), zd.rule_label()),
    )
}

/// One rule's part in a decision, for `goward policy explain`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ExplainStep {
    /// `deny`, `private`, `allow`, `toolchain`, `defaults` or `mode`.
    pub section: &'static str,
    /// The rule name (empty for defaults and mode).
    pub rule: String,
    /// Line of the rule in the policy (0 for built-in behaviour).
    pub line: usize,
    /// What the rule did.
    pub note: String,
}

/// Every rule that matched, in evaluation order, and the decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Explanation {
    /// `module@version`, or the module alone.
    pub subject: String,
    /// The policy's origin.
    pub origin: String,
    /// The rules consulted that match the path, in order.
    pub steps: Vec<ExplainStep>,
    /// The decision.
    pub decision: Decision,
    /// Who may fetch it (the deciding rule's `users`/`groups`); `None`:
    /// anyone the server lets in.
    pub access: Option<String>,
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} (policy {})", self.subject, self.origin)?;
        if self.steps.is_empty() {
            writeln!(f, "  no rule matches")?;
        }
        for s in &self.steps {
            let name = if s.rule.is_empty() {
                String::new()
            } else {
                format!(" {:?}", s.rule)
            };
            let at = if s.line > 0 {
                format!(" (line {})", s.line)
            } else {
                String::new()
            };
            writeln!(f, "  {}{name}{at}: {}", s.section, s.note)?;
        }
        let d = &self.decision;
        writeln!(f, "decision: {}", d.reason)?;
        if d.allowed {
            let proofs: Vec<String> = d.proofs.iter().map(ToString::to_string).collect();
            writeln!(f, "proof required: {}", proofs.join(" and "))?;
            match &d.private {
                Some(r) => writeln!(
                    f,
                    "route: private upstream {}{}; never looked up in a public checksum database",
                    r.upstream,
                    r.auth
                        .as_ref()
                        .map(|a| format!(" ({a})"))
                        .unwrap_or_default()
                )?,
                None => writeln!(f, "route: the public upstream")?,
            }
            match d.max_zip_size {
                Some(n) => writeln!(f, "zip size limit: {}", format_size(n))?,
                None => writeln!(f, "zip size limit: the server's")?,
            }
            writeln!(
                f,
                "retracted versions: {}",
                if d.deny_retracted { "denied" } else { "served" }
            )?;
            if let Some(a) = &self.access {
                writeln!(f, "who may fetch it: only {a}")?;
            }
        }
        Ok(())
    }
}

/// Resolved settings of a rule (or of `[defaults]`).
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    /// What must be proven: each kind with what the rule says of it.
    pub(crate) proofs: Vec<RequiredProof>,
    pub(crate) max_zip_size: Option<u64>,
    pub(crate) deny_retracted: bool,
}

impl Settings {
    /// Whether the rule requires a proof of `kind`.
    pub(crate) fn requires(&self, kind: ProofKind) -> bool {
        self.proofs.iter().any(|p| p.kind() == kind)
    }

    /// The rule's pins, when it requires "pinned".
    pub(crate) fn pins(&self) -> Option<&Arc<PinSet>> {
        self.proofs.iter().find_map(|p| match p {
            RequiredProof::Pinned(r) => Some(&r.pins),
            _ => None,
        })
    }

    fn describe(&self) -> String {
        let proofs: Vec<String> = self.proofs.iter().map(RequiredProof::summary).collect();
        format!(
            "proof {}; zip limit {}; retracted versions {}",
            proofs.join(" + "),
            self.max_zip_size
                .map_or_else(|| "the server's".to_owned(), format_size),
            if self.deny_retracted {
                "denied"
            } else {
                "served"
            }
        )
    }
}

/// Where a rule's required signatures live and who may sign them: the
/// signature kind's requirement.
pub(crate) use SignatureRequirement as SignatureSetting;

/// Which list a rule belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Section {
    Deny,
    Allow,
    Private,
}

/// A validated rule.
#[derive(Clone, Debug)]
pub(crate) struct Rule {
    pub(crate) section: Section,
    pub(crate) name: String,
    pub(crate) line: usize,
    pub(crate) patterns: Patterns,
    pub(crate) filter: Filter,
    pub(crate) reason: Option<String>,
    /// Resolved (inherits `[defaults]`); unused for deny rules.
    pub(crate) settings: Settings,
    pub(crate) route: Option<PrivateRoute>,
    /// Who may fetch what the rule matches; `None`: anyone the server lets in.
    pub(crate) access: Option<Arc<Access>>,
}

/// `; only users "alice"` for `policy check`, or nothing.
fn access_note(r: &Rule) -> String {
    r.access
        .as_ref()
        .map(|a| format!("; only {}", a.describe()))
        .unwrap_or_default()
}

/// A rule's `users` and `groups`: an identity named in either may fetch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Access {
    pub(crate) users: Vec<String>,
    pub(crate) groups: Vec<String>,
}

impl Access {
    fn admits(&self, who: &crate::auth::Identity) -> bool {
        self.users.contains(&who.name) || who.groups.iter().any(|g| self.groups.contains(g))
    }

    /// `users "alice" and groups "payments"`.
    fn describe(&self) -> String {
        let list = |v: &[String]| {
            v.iter()
                .map(|s| crate::xmod::module::quote(s))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match (self.users.is_empty(), self.groups.is_empty()) {
            (false, true) => format!("users {}", list(&self.users)),
            (true, false) => format!("groups {}", list(&self.groups)),
            _ => format!(
                "users {} and groups {}",
                list(&self.users),
                list(&self.groups)
            ),
        }
    }
}

impl Rule {
    /// Whether the rule selects `module` at `version` (version-less: only
    /// rules without a version filter).
    fn selects(&self, module: &str, version: Option<&str>) -> bool {
        self.patterns.matches(module) && self.selects_version(version)
    }

    /// The version half of [`Rule::selects`].
    fn selects_version(&self, version: Option<&str>) -> bool {
        match version {
            Some(v) => self.filter.matches(v),
            None => self.filter.is_all(),
        }
    }
}

/// The `[toolchain]` limits.
#[derive(Clone, Debug)]
pub(crate) struct ToolchainRules {
    pub(crate) line: usize,
    /// Without the `go` prefix.
    pub(crate) min_version: Option<String>,
    pub(crate) versions: Option<Constraint>,
    pub(crate) kinds: KindSet,
    pub(crate) platforms: Option<Vec<PlatformGlob>>,
    /// A signature required on top of the checksum database.
    pub(crate) signature: Option<Arc<SignatureSetting>>,
}

impl ToolchainRules {
    /// `None` if allowed, else why not.
    fn check(&self, go: &str, os: &str, arch: &str) -> Option<String> {
        let shown = format!("go{go}");
        if let Some(min) = &self.min_version
            && version::gover_compare(go, min) == std::cmp::Ordering::Less
        {
            return Some(format!(
                "toolchain {shown} is older than the minimum go{min}"
            ));
        }
        if let Some(c) = &self.versions
            && !c.matches(go)
        {
            return Some(format!(
                "toolchain {shown} is not in the allowed versions {c}"
            ));
        }
        let kind = version::Kind::of(Scheme::Go, go);
        if !self.kinds.contains(kind) {
            return Some(format!(
                "toolchain {shown} is a {} and kinds does not include {:?}",
                if kind == version::Kind::Prerelease {
                    "pre-release"
                } else {
                    "release"
                },
                kind.name()
            ));
        }
        if let Some(p) = &self.platforms
            && !p.iter().any(|g| g.matches(os, arch))
        {
            return Some(format!(
                "toolchain platform {os}/{arch} is not allowed (allowed: {})",
                p.iter()
                    .map(|g| g.text.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        None
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(m) = &self.min_version {
            parts.push(format!("minimum go{m}"));
        }
        if let Some(c) = &self.versions {
            parts.push(format!("versions {c}"));
        }
        if self.kinds != KindSet::all(Scheme::Go) {
            parts.push("releases only".to_owned());
        }
        if let Some(p) = &self.platforms {
            parts.push(format!(
                "platforms {}",
                p.iter()
                    .map(|g| g.text.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if let Some(s) = &self.signature {
            parts.push(format!(
                "signature (signed {}; signers {}; at {})",
                s.signed.as_str(),
                s.signers.join(", "),
                s.location
            ));
        }
        if parts.is_empty() {
            parts.push("no limits".to_owned());
        }
        parts.join("; ")
    }
}

/// Splits a toolchain module version `v0.0.1-go1.22.3.linux-amd64` into Go
/// version (without `go`), GOOS and GOARCH.
pub(crate) fn split_toolchain_version(v: &str) -> Option<(&str, &str, &str)> {
    let rest = v.strip_prefix("v0.0.1-go")?;
    let (go, platform) = rest.rsplit_once('.')?;
    let (os, arch) = platform.split_once('-')?;
    (version::gover_is_valid(go) && platform_word(os) && platform_word(arch))
        .then_some((go, os, arch))
}

/// A GOOS or GOARCH: lower-case letters and digits.
fn platform_word(w: &str) -> bool {
    !w.is_empty()
        && w.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// A loaded, validated policy. Cheap to clone (pin tables are shared).
#[derive(Clone, Debug)]
pub(crate) struct Policy {
    pub(crate) origin: String,
    pub(crate) mode: Mode,
    pub(crate) defaults: Settings,
    pub(crate) deny: Vec<Rule>,
    pub(crate) allow: Vec<Rule>,
    pub(crate) private: Vec<Rule>,
    pub(crate) toolchain: Option<ToolchainRules>,
    /// `[[signer]]` tables: who may sign. Validated at load; a rule that
    /// requires `signature` names the ones it accepts.
    pub(crate) signers: Vec<PolicySigner>,
    /// Every pin file it read, resolved, in the order first read (those
    /// `[defaults]` names for rules to inherit too): what a reload watches.
    pub(crate) read_files: Vec<PathBuf>,
}

pub(crate) use crate::verify::proof::signature::PolicySigner;

/// Which rule supplies the settings of an allowed request.
enum Source<'a> {
    Rule(&'a Rule),
    Defaults,
}

impl Policy {
    /// Reads and validates a policy file. Pin files it names are read
    /// relative to its directory.
    pub(crate) fn load(path: &Path) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.to_owned(),
            source,
        })?;
        Policy::parse(&text, &path.display().to_string())
    }

    /// Validates policy text. `origin` names it in errors; pin files and
    /// relative secret files are resolved against `origin`'s directory.
    pub(crate) fn parse(text: &str, origin: &str) -> Result<Policy, PolicyError> {
        let base = Path::new(origin)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        parse::parse(text, origin, &base, &|p: &Path| std::fs::read_to_string(p))
    }

    /// The embedded default: every module must be proven in the checksum
    /// database; nothing is denied.
    pub(crate) fn embedded_default() -> Policy {
        match Policy::parse(DEFAULT_POLICY, "<embedded default policy>") {
            Ok(p) => p,
            // A unit test loads it; it cannot fail at run time.
            Err(e) => unreachable!("the embedded default policy is invalid: {e}"),
        }
    }

    /// How many rules it has (`[[deny]]`, `[[allow]]`, `[[private]]`).
    pub(crate) fn rule_count(&self) -> usize {
        self.deny
            .len()
            .saturating_add(self.allow.len())
            .saturating_add(self.private.len())
    }

    /// Where the policy came from.
    pub(crate) fn origin(&self) -> &str {
        &self.origin
    }

    /// The `[[signer]]`s, in file order.
    pub(crate) fn signers(&self) -> &[PolicySigner] {
        &self.signers
    }

    /// Whether `[toolchain]` requires a signature by these signers at this
    /// location (a refusal then names the `toolchain` rule).
    pub(crate) fn is_toolchain_signature(&self, signers: &[String], location: &str) -> bool {
        self.toolchain
            .as_ref()
            .and_then(|t| t.signature.as_ref())
            .is_some_and(|s| s.signers == signers && s.location == location)
    }

    /// The `[[signer]]` called `name`.
    pub(crate) fn signer(&self, name: &str) -> Option<&PolicySigner> {
        self.signers.iter().find(|s| s.name == name)
    }

    /// The pin this policy holds for one artifact, under the rule that
    /// decides it; `None` when it pins nothing for it.
    #[cfg(test)]
    pub(crate) fn pin(
        &self,
        module: &str,
        version: &str,
        kind: ArtifactKind,
    ) -> Option<crate::verify::proof::pinned::PinnedHash> {
        let anchors = self.trust_anchors(&[], module, version, kind);
        crate::verify::proof::pinned::PinnedHash::from_anchors(&anchors, module, version, kind)
    }

    /// Whether a stored record satisfies every proof `d` requires under
    /// this policy (the hash it pins now, its signers), with
    /// `primary_sumdb` the database that proves modules: each requirement's
    /// kind decides. A decision requiring nothing is refused: goward serves
    /// nothing unproven. `Err` says what is missing.
    pub(crate) fn satisfied(
        &self,
        d: &Decision,
        recorded: &Recorded<'_>,
        primary_sumdb: &str,
    ) -> Result<(), String> {
        if d.proofs.is_empty() {
            return Err("the policy requires no proof, and goward serves nothing unproven".into());
        }
        // Looked up only when a pin is required: this runs on every request.
        let pin = if d.proofs.iter().any(|p| p.kind() == ProofKind::Pinned) {
            self.pinned_h1(recorded.module, recorded.version, recorded.kind)
        } else {
            None
        };
        let cx = Satisfying {
            private: d.private.is_some(),
            primary_sumdb,
            pin,
            go_mod_signed: d.go_mod_signature().is_some(),
        };
        d.proofs
            .iter()
            .try_for_each(|req| req.satisfied_by(recorded, &cx))
    }

    /// What this policy says the stored evidence of one artifact is
    /// re-checked against, with the configured checksum-database keys.
    pub(crate) fn trust_anchors<'a>(
        &'a self,
        sumdb_keys: &'a [crate::xmod::note::Verifier],
        module: &str,
        version: &str,
        kind: ArtifactKind,
    ) -> crate::verify::proof::TrustAnchors<'a> {
        crate::verify::proof::TrustAnchors {
            sumdb_keys,
            policy_origin: self.origin(),
            pin: self.pinned_h1(module, version, kind),
            signers: &self.signers,
        }
    }

    /// The routes of the `[[private]]` rules, in file order.
    pub(crate) fn private_routes(&self) -> impl Iterator<Item = &PrivateRoute> {
        self.private.iter().filter_map(|r| r.route.as_ref())
    }

    /// Every pin file the policy read, resolved against its directory (for
    /// reload watchers).
    pub(crate) fn pin_files(&self) -> Vec<PathBuf> {
        self.read_files.clone()
    }

    /// Open or allow-list.
    #[cfg(test)]
    pub(crate) fn mode(&self) -> Mode {
        self.mode
    }

    /// Decides a request for `module` (`@v/list`, `@latest`: no version) or
    /// `module@version` (`.info`; use [`Policy::decide_artifact`] for `.mod`
    /// and `.zip`). `module` and `version` must already be valid (the
    /// request parser checks them); an invalid version is denied.
    pub(crate) fn decide(&self, module: &str, version: Option<&str>) -> Decision {
        self.evaluate(module, version, None, None)
    }

    /// Like [`Policy::decide`] for one artifact of a version: with pinned
    /// proof, that artifact's own hash must be pinned (a go.sum often pins
    /// only the go.mod of indirect dependencies).
    pub(crate) fn decide_artifact(
        &self,
        module: &str,
        version: &str,
        kind: ArtifactKind,
    ) -> Decision {
        self.evaluate(module, Some(version), Some(kind), None)
    }

    /// Decides a Go toolchain (`go1.22.3` or `1.22.3`, GOOS, GOARCH; `armv6l`
    /// means `arm`): the `[toolchain]` limits, the deny rules and the
    /// allow-list applied to the module `golang.org/toolchain`.
    #[cfg(test)]
    pub(crate) fn decide_toolchain(&self, go_version: &str, os: &str, arch: &str) -> Decision {
        let go = go_version.strip_prefix("go").unwrap_or(go_version);
        let arch = if arch == "armv6l" { "arm" } else { arch };
        let mv = format!("v0.0.1-go{go}.{os}-{arch}");
        if split_toolchain_version(&mv) != Some((go, os, arch)) || !semver::is_valid(&mv) {
            return denied(
                None,
                format!(
                    "denied by policy: {} is not a Go toolchain (want e.g. go1.22.3 linux amd64)",
                    crate::xmod::module::quote(&format!("{go_version} {os}/{arch}"))
                ),
                None,
            );
        }
        self.decide(TOOLCHAIN_MODULE, Some(&mv))
    }

    /// Whether `who` (`None`: not authenticated) may fetch `module` at
    /// `version`: the rule that decides it may name the users and groups
    /// it admits. `Err` is the denial, naming the rule and the identity.
    pub(crate) fn admits(
        &self,
        module: &str,
        version: Option<&str>,
        who: Option<&crate::auth::Identity>,
    ) -> Result<(), String> {
        let Source::Rule(rule) = self.source(module, version) else {
            return Ok(());
        };
        let Some(access) = &rule.access else {
            return Ok(());
        };
        match who {
            Some(id) if access.admits(id) => Ok(()),
            Some(id) => Err(format!(
                "denied by policy rule {}: only {} may fetch {}; you are {}",
                crate::xmod::module::quote(&rule.name),
                access.describe(),
                subject(module, version),
                id.describe()
            )),
            None => Err(format!(
                "denied by policy rule {}: only {} may fetch {}, and this request is not authenticated",
                crate::xmod::module::quote(&rule.name),
                access.describe(),
                subject(module, version)
            )),
        }
    }

    /// Every rule that matches, in order, and the decision.
    pub(crate) fn explain(&self, module: &str, version: Option<&str>) -> Explanation {
        let mut steps = Vec::new();
        let decision = self.evaluate(module, version, None, Some(&mut steps));
        let access = match self.source(module, version) {
            Source::Rule(r) => r.access.as_ref().map(|a| a.describe()),
            Source::Defaults => None,
        };
        Explanation {
            access,
            subject: subject(module, version),
            origin: self.origin.clone(),
            steps,
            decision,
        }
    }

    /// The pinned `h1:` of one artifact under the rule that decides
    /// `module@version`; `None` if that rule pins nothing for it.
    pub(crate) fn pinned_h1(&self, module: &str, version: &str, kind: ArtifactKind) -> Option<&H1> {
        let settings = match self.source(module, Some(version)) {
            Source::Rule(r) => &r.settings,
            Source::Defaults => &self.defaults,
        };
        settings.pins()?.get(module, version, kind)
    }

    /// The resolved rules, for `goward policy check`.
    pub(crate) fn describe(&self) -> String {
        let mut out = String::new();
        let mut line = |s: String| {
            out.push_str(&s);
            out.push('\n');
        };
        line(format!("mode: {}", self.mode.as_str()));
        line(format!("defaults: {}", self.defaults.describe()));
        line(format!(
            "deny rules ({}; any match denies, the first names the reason):",
            self.deny.len()
        ));
        for (i, r) in self.deny.iter().enumerate() {
            line(format!(
                "  {}. {:?} (line {}): {} {}: {}",
                i + 1,
                r.name,
                r.line,
                r.patterns.text(),
                r.filter.describe(),
                r.reason.as_deref().unwrap_or("")
            ));
        }
        line(format!(
            "private rules ({}; first match routes, never a public checksum-database lookup):",
            self.private.len()
        ));
        for (i, r) in self.private.iter().enumerate() {
            let route = r.route.as_ref();
            line(
                format!(
                    "  {}. {:?} (line {}): {} via {}{}; {}",
                    i + 1,
                    r.name,
                    r.line,
                    r.patterns.text(),
                    route.map_or("", |r| r.upstream.as_str()),
                    route
                        .and_then(|r| r.auth.as_ref())
                        .map(|a| format!(" ({a})"))
                        .unwrap_or_default(),
                    r.settings.describe()
                ) + &access_note(r),
            );
        }
        line(format!(
            "allow rules ({}; first match supplies the settings{}):",
            self.allow.len(),
            if self.mode == Mode::AllowList {
                "; nothing else is served"
            } else {
                ""
            }
        ));
        for (i, r) in self.allow.iter().enumerate() {
            line(
                format!(
                    "  {}. {:?} (line {}): {} {}; {}",
                    i + 1,
                    r.name,
                    r.line,
                    r.patterns.text(),
                    r.filter.describe(),
                    r.settings.describe()
                ) + &access_note(r),
            );
        }
        match &self.toolchain {
            Some(t) => line(format!(
                "toolchain (line {}): {}; checksum-database proof is mandatory",
                t.line,
                t.describe()
            )),
            None => line("toolchain: no limits; checksum-database proof is mandatory".to_owned()),
        }
        if !self.signers.is_empty() {
            line(format!(
                "signers ({}; declared and checked):",
                self.signers.len()
            ));
            for (i, s) in self.signers.iter().enumerate() {
                line(format!(
                    "  {}. {:?} (line {}): {}",
                    i + 1,
                    s.name,
                    s.line,
                    s.describe()
                ));
            }
        }
        out
    }

    /// The first private rule for a path.
    fn private_rule(&self, module: &str) -> Option<&Rule> {
        self.private.iter().find(|r| r.patterns.matches(module))
    }

    /// The rule whose settings apply (ignoring denials).
    fn source(&self, module: &str, version: Option<&str>) -> Source<'_> {
        if let Some(p) = self.private_rule(module) {
            return Source::Rule(p);
        }
        match self.allow.iter().find(|r| r.selects(module, version)) {
            Some(r) => Source::Rule(r),
            None => Source::Defaults,
        }
    }

    fn evaluate(
        &self,
        module: &str,
        version: Option<&str>,
        artifact: Option<ArtifactKind>,
        mut trace: Option<&mut Vec<ExplainStep>>,
    ) -> Decision {
        let subj = subject(module, version);
        let tracing = trace.is_some();
        let mut step = |section: &'static str, rule: &str, line: usize, note: String| {
            if let Some(t) = trace.as_deref_mut() {
                t.push(ExplainStep {
                    section,
                    rule: rule.to_owned(),
                    line,
                    note,
                });
            }
        };
        let private = self.private_rule(module);
        let route = private.and_then(|p| p.route.clone());

        if let Some(v) = version
            && !semver::is_valid(v)
        {
            return denied(
                None,
                format!("denied by policy: {v:?} is not a valid module version"),
                route,
            );
        }

        // 1. Deny always wins; the first selecting deny rule names the reason.
        let mut deny_hit: Option<(&Rule, String)> = None;
        for r in &self.deny {
            let Some(glob) = r.patterns.matching(module) else {
                continue;
            };
            if r.selects_version(version) {
                let why = match version.and_then(|v| r.filter.describe_match(v)) {
                    Some(m) => format!("{subj} {m}"),
                    None => format!("{subj} matches {:?}", glob.text),
                };
                if deny_hit.is_none() {
                    step("deny", &r.name, r.line, format!("{why}: decides, denied"));
                    deny_hit = Some((r, why));
                } else if tracing {
                    step(
                        "deny",
                        &r.name,
                        r.line,
                        format!("{why}: also denies (an earlier deny rule names the reason)"),
                    );
                }
            } else if tracing {
                let note = match version {
                    Some(v) => format!(
                        "path matches {:?} but {v} is not selected ({})",
                        glob.text,
                        r.filter.describe()
                    ),
                    None => format!(
                        "path matches {:?}; applies only to {}",
                        glob.text,
                        r.filter.describe()
                    ),
                };
                step("deny", &r.name, r.line, note);
            }
        }
        if let Some((r, why)) = deny_hit {
            let reason = r.reason.as_deref().unwrap_or("");
            return denied(
                Some(&r.name),
                format!("denied by policy rule {:?}: {why} ({reason})", r.name),
                route,
            );
        }

        // 2. Toolchain limits.
        if module == TOOLCHAIN_MODULE
            && let (Some(v), Some(t)) = (version, &self.toolchain)
        {
            let verdict = match split_toolchain_version(v) {
                Some((go, os, arch)) => t.check(go, os, arch),
                None => Some(format!("{subj} is not a Go toolchain version")),
            };
            match verdict {
                Some(why) => {
                    step("toolchain", "", t.line, format!("{why}: decides, denied"));
                    return denied(
                        Some("toolchain"),
                        format!("denied by policy rule \"toolchain\": {why}"),
                        route,
                    );
                }
                None => step(
                    "toolchain",
                    "",
                    t.line,
                    format!("within the limits ({})", t.describe()),
                ),
            }
        }

        // 3. Private routing, then the first selecting allow rule.
        if let Some(p) = private {
            step(
                "private",
                &p.name,
                p.line,
                format!(
                    "path matches {:?}: private, supplies the settings",
                    p.patterns.matching(module).map_or("", |g| g.text.as_str())
                ),
            );
        }
        let mut chosen: Option<&Rule> = None;
        let mut partial: Option<&Rule> = None;
        for r in &self.allow {
            let Some(glob) = r.patterns.matching(module) else {
                continue;
            };
            if !r.selects_version(version) {
                partial.get_or_insert(r);
                if tracing {
                    let note = match version {
                        Some(v) => format!(
                            "path matches {:?} but {v} is not selected ({})",
                            glob.text,
                            r.filter.describe()
                        ),
                        None => format!(
                            "path matches {:?}; allows {}",
                            glob.text,
                            r.filter.describe()
                        ),
                    };
                    step("allow", &r.name, r.line, note);
                }
                continue;
            }
            if private.is_some() {
                step(
                    "allow",
                    &r.name,
                    r.line,
                    format!("matches {:?}, but the path is private: not used", glob.text),
                );
            } else if chosen.is_none() {
                chosen = Some(r);
                step(
                    "allow",
                    &r.name,
                    r.line,
                    format!("matches {:?}: supplies the settings", glob.text),
                );
            } else {
                step(
                    "allow",
                    &r.name,
                    r.line,
                    format!(
                        "matches {:?}, but an earlier allow rule comes first",
                        glob.text
                    ),
                );
            }
        }

        let (source, settings) = match (private, chosen) {
            (Some(p), _) => (Some(p), &p.settings),
            (None, Some(r)) => (Some(r), &r.settings),
            (None, None) => (None, &self.defaults),
        };
        // Version-less requests are listed if any allow rule's path matches.
        let source = source.or(if version.is_none() { partial } else { None });

        // 4. Allow-list.
        if self.mode == Mode::AllowList && source.is_none() {
            let why = match partial {
                Some(r) => format!(
                    "{subj} is not on the allow-list (rule {:?} allows {})",
                    r.name,
                    r.filter.describe()
                ),
                None => format!(
                    "{subj} is not on the allow-list (no [[allow]] or [[private]] rule matches it)"
                ),
            };
            step("mode", "", 0, format!("allow-list: {why}"));
            return denied(None, format!("denied by policy: {why}"), route);
        }
        if source.is_none() {
            step(
                "defaults",
                "",
                0,
                "no rule matches: open mode, the [defaults] settings apply".to_owned(),
            );
        }

        // 5. Pinned proof.
        let by = |s: Option<&Rule>| match s {
            Some(r) => format!("denied by policy rule {:?}", r.name),
            None => "denied by policy defaults".to_owned(),
        };
        if let Some(v) = version
            && let Some(pins) = settings.pins()
        {
            let files = pins.files_text();
            let pinned = match artifact {
                Some(kind) => pins.get(module, v, kind).is_some(),
                None => pins.has_version(module, v),
            };
            if !pinned {
                let what = match artifact {
                    Some(kind) => format!("the {} of {subj}", kind.as_str()),
                    None => subj.clone(),
                };
                let why = format!("{what} is not pinned in {files}");
                step("pins", "", 0, format!("{why}: decides, denied"));
                return denied(
                    source.map(|r| r.name.as_str()),
                    format!("{}: {why}", by(source)),
                    route,
                );
            }
        }

        let mut proofs = settings.proofs.clone();
        let sumdb = RequiredProof::Sumdb(sumdb::Requirement);
        if module == TOOLCHAIN_MODULE && !proofs.contains(&sumdb) {
            // Unreachable: the loader rejects such policies. Kept as a guard.
            proofs.insert(0, sumdb);
        }
        // `[toolchain]`'s signature, on top of what the rule requires.
        if module == TOOLCHAIN_MODULE
            && let Some(s) = self.toolchain.as_ref().and_then(|t| t.signature.as_ref())
            && !proofs.iter().any(|p| p.signature() == Some(&**s))
        {
            proofs.push(RequiredProof::Signature((**s).clone()));
        }
        let reason = match source {
            Some(r) if r.section == Section::Private => format!(
                "allowed by policy rule {:?} (private: fetched from {}, never looked up in a public checksum database)",
                r.name,
                route.as_ref().map_or("", |r| r.upstream.as_str())
            ),
            Some(r) if version.is_none() && !r.filter.is_all() => format!(
                "allowed by policy rule {:?} (for {})",
                r.name,
                r.filter.describe()
            ),
            Some(r) => format!("allowed by policy rule {:?}", r.name),
            None => "allowed: no policy rule matches, the defaults apply".to_owned(),
        };
        Decision {
            allowed: true,
            rule: source.map(|r| r.name.clone()),
            reason,
            proofs,
            private: route,
            max_zip_size: settings.max_zip_size,
            deny_retracted: settings.deny_retracted,
        }
    }
}

fn subject(module: &str, version: Option<&str>) -> String {
    match version {
        Some(v) => format!("{module}@{v}"),
        None => module.to_owned(),
    }
}

fn denied(rule: Option<&str>, reason: String, private: Option<PrivateRoute>) -> Decision {
    Decision {
        allowed: false,
        rule: rule.map(str::to_owned),
        reason,
        proofs: Vec::new(),
        private,
        max_zip_size: None,
        deny_retracted: false,
    }
}

/// `524288000` → `500 MiB`; exact units only.
pub(crate) fn format_size(n: u64) -> String {
    for (unit, shift) in [("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        if n >= 1 << shift && n.is_multiple_of(1 << shift) {
            return format!("{} {unit}", n >> shift);
        }
    }
    format!("{n} bytes")
}
