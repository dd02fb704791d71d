//! Truth tables for how policy rules combine, toolchain rules, the shipped
//! policies, and bad policy files (each mistake → exact message, line and
//! column).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::*;
use crate::verify::proof::pinned;

const H_A: &str = "h1:ypeBEsobvcr6wjGzmiPcTaeG7/gUfE5yuYB3ha/uSLs=";
const H_B: &str = "h1:PiPoFgA5WUoziU9lZOGxNIu9egCI1CxKy3PurtWcAJ0=";
const PSEUDO: &str = "v0.0.0-20240101000000-abcdefabcdef";

/// Parses `text` as `policy.toml` with in-memory pin files.
fn parse_with(text: &str, files: &[(&str, &str)]) -> Result<Policy, PolicyError> {
    let map: HashMap<PathBuf, String> = files
        .iter()
        .map(|(n, t)| (PathBuf::from(n), (*t).to_owned()))
        .collect();
    parse::parse(text, "policy.toml", Path::new(""), &|p: &Path| {
        map.get(p).cloned().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory")
        })
    })
}

fn policy(text: &str) -> Policy {
    parse_with(text, &[]).unwrap_or_else(|e| panic!("policy does not load:\n{e}"))
}

/// Every diagnostic, as `file:line:col: message`.
fn errors_with(text: &str, files: &[(&str, &str)]) -> Vec<String> {
    match parse_with(text, files) {
        Ok(_) => panic!("policy loads but should not:\n{text}"),
        Err(e) => e.diagnostics().iter().map(ToString::to_string).collect(),
    }
}

fn errors(text: &str) -> Vec<String> {
    errors_with(text, &[])
}

fn split(subject: &str) -> (&str, Option<&str>) {
    match subject.split_once('@') {
        Some((m, v)) => (m, Some(v)),
        None => (subject, None),
    }
}

/// `allow:RULE`, `deny:RULE`, with `-` for no rule.
fn verdict(d: &Decision) -> String {
    format!(
        "{}:{}",
        if d.allowed { "allow" } else { "deny" },
        d.rule.as_deref().unwrap_or("-")
    )
}

fn assert_table(p: &Policy, table: &[(&str, &str)]) {
    let mut failures = Vec::new();
    for &(subject, want) in table {
        let (m, v) = split(subject);
        let d = p.decide(m, v);
        let got = verdict(&d);
        if got != want {
            failures.push(format!("{subject}: got {got} ({}), want {want}", d.reason));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------
// How rules combine.
// ---------------------------------------------------------------------------

#[test]
fn empty_policy_allows_everything_with_sumdb_proof() {
    let p = policy("");
    assert_eq!(p.mode(), Mode::Open);
    let d = p.decide("github.com/a/b", Some("v1.0.0"));
    assert_eq!(
        d,
        Decision {
            allowed: true,
            rule: None,
            reason: "allowed: no policy rule matches, the defaults apply".into(),
            proofs: vec![RequiredProof::Sumdb(sumdb::Requirement)],
            private: None,
            max_zip_size: None,
            deny_retracted: false,
        }
    );
    assert!(d.public_sumdb_lookup());
    assert_eq!(d.rule_label(), "default");
    assert_table(
        &p,
        &[
            ("github.com/a/b", "allow:-"),
            (
                "golang.org/toolchain@v0.0.1-go1.22.3.linux-amd64",
                "allow:-",
            ),
            (&format!("example.com/m@{PSEUDO}"), "allow:-"),
        ],
    );
}

#[test]
fn embedded_default_is_open_and_proves_everything_in_the_checksum_database() {
    let p = Policy::embedded_default();
    assert_eq!(p.mode(), Mode::Open);
    assert!(p.deny.is_empty() && p.allow.is_empty() && p.private.is_empty());
    for (m, v) in [
        ("github.com/a/b", Some("v1.2.3")),
        ("golang.org/toolchain", Some("v0.0.1-go1.21.0.darwin-arm64")),
        ("corp.example.com/x", None),
    ] {
        let d = p.decide(m, v);
        assert!(d.allowed, "{m}");
        assert_eq!(d.proofs, [RequiredProof::Sumdb(sumdb::Requirement)], "{m}");
        assert!(d.private.is_none() && !d.deny_retracted && d.max_zip_size.is_none());
    }
    assert!(p.decide_toolchain("go1.25.0", "linux", "amd64").allowed);
}

const COMBINE: &str = r#"
mode = "open"

[defaults]
deny_retracted = true

[[deny]]
name = "no-vulnerable-yaml"
modules = "gopkg.in/yaml.v2"
versions = "< v2.2.8"
reason = "CVE-2019-11254"

[[deny]]
name = "no-bad-corp"
modules = "corp.example.com/bad"
reason = "withdrawn"

[[deny]]
name = "no-pseudo"
modules = "github.com"
kinds = ["pseudo"]
reason = "tag a release"

[[deny]]
name = "no-old-a"
modules = "github.com/a"
versions = "< v2.0.0"
reason = "too old"

[[allow]]
name = "yaml"
modules = "gopkg.in"
max_zip_size = 1048576

[[allow]]
name = "a-specific"
modules = "github.com/a/b"
deny_retracted = false
max_zip_size = "2 MiB"

[[allow]]
name = "github"
modules = "github.com"

[[private]]
name = "corp"
modules = "corp.example.com"
upstream = "https://goproxy.corp.example.com"
pins = ["corp.sum"]
"#;

fn combine() -> Policy {
    let sum = format!(
        "corp.example.com/lib v1.0.0 {H_A}\ncorp.example.com/lib v1.0.0/go.mod {H_B}\ncorp.example.com/bad v1.0.0 {H_A}\ncorp.example.com/lib v1.1.0/go.mod {H_B}\n"
    );
    parse_with(COMBINE, &[("corp.sum", &sum)]).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn deny_always_wins() {
    let p = combine();
    assert_table(
        &p,
        &[
            // Deny beats the allow rule that matches too.
            ("gopkg.in/yaml.v2@v2.2.1", "deny:no-vulnerable-yaml"),
            ("gopkg.in/yaml.v2@v2.2.8", "allow:yaml"),
            // Deny beats a private rule.
            ("corp.example.com/bad@v1.0.0", "deny:no-bad-corp"),
            ("corp.example.com/bad", "deny:no-bad-corp"),
            // Deny beats the most specific allow rule.
            (&format!("github.com/a/b@{PSEUDO}"), "deny:no-pseudo"),
            ("github.com/a/b@v1.9.0", "deny:no-old-a"),
            ("github.com/a/b@v2.0.0+incompatible", "allow:a-specific"),
        ],
    );
    // Every denial keeps the private route (so no public lookup happens for it).
    let d = p.decide("corp.example.com/bad", Some("v1.0.0"));
    assert_eq!(d.private.as_ref().map(|r| r.rule.as_str()), Some("corp"));
    assert!(d.proofs.is_empty() && !d.public_sumdb_lookup());
}

#[test]
fn first_matching_deny_rule_names_the_reason() {
    let p = combine();
    // Both no-pseudo and no-old-a select it; no-pseudo comes first.
    let d = p.decide(
        "github.com/a/x",
        Some("v1.0.1-0.20240101000000-abcdefabcdef"),
    );
    assert_eq!(
        d.reason,
        r#"denied by policy rule "no-pseudo": github.com/a/x@v1.0.1-0.20240101000000-abcdefabcdef is a pseudo-version (tag a release)"#
    );
    let d = p.decide("gopkg.in/yaml.v2", Some("v2.2.1"));
    assert_eq!(
        d.reason,
        r#"denied by policy rule "no-vulnerable-yaml": gopkg.in/yaml.v2@v2.2.1 is in range < v2.2.8 (CVE-2019-11254)"#
    );
    let d = p.decide("corp.example.com/bad/sub", Some("v1.0.0"));
    assert_eq!(
        d.reason,
        r#"denied by policy rule "no-bad-corp": corp.example.com/bad/sub@v1.0.0 matches "corp.example.com/bad" (withdrawn)"#
    );
}

#[test]
fn first_matching_allow_rule_supplies_the_settings() {
    let p = combine();
    let d = p.decide("github.com/a/b", Some("v2.1.0"));
    assert_eq!(verdict(&d), "allow:a-specific");
    assert_eq!(d.max_zip_size, Some(2 << 20));
    assert!(!d.deny_retracted, "the rule's own setting");
    let d = p.decide("github.com/a/c", Some("v2.1.0"));
    assert_eq!(verdict(&d), "allow:github");
    assert_eq!(d.max_zip_size, None);
    assert!(d.deny_retracted, "inherited from [defaults]");
    let d = p.decide("gopkg.in/yaml.v3", Some("v3.0.1"));
    assert_eq!(verdict(&d), "allow:yaml");
    assert_eq!(d.max_zip_size, Some(1 << 20));
    assert_eq!(d.proofs, [RequiredProof::Sumdb(sumdb::Requirement)]);
    // No rule: the defaults.
    let d = p.decide("golang.org/x/mod", Some("v0.43.0"));
    assert_eq!(verdict(&d), "allow:-");
    assert!(d.deny_retracted && d.max_zip_size.is_none());
}

#[test]
fn private_paths_route_privately_and_need_pins() {
    let p = combine();
    let d = p.decide("corp.example.com/lib", Some("v1.0.0"));
    assert_eq!(verdict(&d), "allow:corp");
    assert_eq!(
        d.private,
        Some(PrivateRoute {
            rule: "corp".into(),
            upstream: "https://goproxy.corp.example.com".into(),
            auth: None,
        })
    );
    assert_eq!(
        d.proofs,
        [RequiredProof::Pinned(pinned::Requirement::of_files(&[
            "corp.sum"
        ]))]
    );
    assert!(!d.public_sumdb_lookup());
    assert!(d.deny_retracted, "inherited from [defaults]");
    assert_eq!(
        d.reason,
        r#"allowed by policy rule "corp" (private: fetched from https://goproxy.corp.example.com, never looked up in a public checksum database)"#
    );
    // Version-less requests route the same way.
    let d = p.decide("corp.example.com/lib", None);
    assert!(d.allowed && d.private.is_some());
    // Not pinned at all: denied, and still routed privately.
    let d = p.decide("corp.example.com/lib", Some("v1.2.0"));
    assert_eq!(
        d.reason,
        r#"denied by policy rule "corp": corp.example.com/lib@v1.2.0 is not pinned in corp.sum"#
    );
    assert!(!d.allowed && d.private.is_some());
    // Only the go.mod is pinned (as for an indirect dependency in go.sum).
    assert!(p.decide("corp.example.com/lib", Some("v1.1.0")).allowed);
    assert!(
        p.decide_artifact("corp.example.com/lib", "v1.1.0", ArtifactKind::Mod)
            .allowed
    );
    let d = p.decide_artifact("corp.example.com/lib", "v1.1.0", ArtifactKind::Zip);
    assert_eq!(
        d.reason,
        r#"denied by policy rule "corp": the zip of corp.example.com/lib@v1.1.0 is not pinned in corp.sum"#
    );
    assert_eq!(
        p.pinned_h1("corp.example.com/lib", "v1.0.0", ArtifactKind::Zip)
            .map(H1::as_str),
        Some(H_A)
    );
    assert_eq!(
        p.pinned_h1("corp.example.com/lib", "v1.0.0", ArtifactKind::Mod)
            .map(H1::as_str),
        Some(H_B)
    );
    assert_eq!(
        p.pinned_h1("corp.example.com/lib", "v1.1.0", ArtifactKind::Zip),
        None
    );
    // Public paths have no pins under a sumdb-only rule.
    assert_eq!(
        p.pinned_h1("github.com/a/c", "v1.0.0", ArtifactKind::Zip),
        None
    );
    // Prefix semantics: a look-alike host is not private.
    let d = p.decide("corp.example.com.evil.org/lib", Some("v1.0.0"));
    assert!(d.allowed && d.private.is_none());
}

#[test]
fn allow_list_mode() {
    let p = policy(
        r#"
mode = "allow-list"

[[deny]]
name = "no-old-uuid"
modules = "github.com/google/uuid"
versions = "< v1.3.0"
reason = "old"

[[allow]]
name = "uuid"
modules = "github.com/google/uuid"

[[allow]]
name = "x-releases"
modules = "golang.org/x/*"
versions = ">= v0.10.0"
kinds = ["release"]
"#,
    );
    assert_table(
        &p,
        &[
            ("github.com/google/uuid@v1.6.0", "allow:uuid"),
            ("github.com/google/uuid@v1.2.0", "deny:no-old-uuid"),
            ("github.com/google/uuid", "allow:uuid"),
            ("github.com/google/other@v1.0.0", "deny:-"),
            ("github.com/google/other", "deny:-"),
            ("golang.org/x/mod@v0.43.0", "allow:x-releases"),
            ("golang.org/x/mod@v0.9.0", "deny:-"),
            ("golang.org/x/mod@v0.44.0-rc.1", "deny:-"),
            // A version-less request is listed when a rule's path matches.
            ("golang.org/x/mod", "allow:x-releases"),
            ("golang.org/x", "deny:-"),
            ("golang.org/toolchain@v0.0.1-go1.22.3.linux-amd64", "deny:-"),
        ],
    );
    assert_eq!(
        p.decide("github.com/google/other", Some("v1.0.0")).reason,
        "denied by policy: github.com/google/other@v1.0.0 is not on the allow-list (no [[allow]] or [[private]] rule matches it)"
    );
    assert_eq!(
        p.decide("golang.org/x/mod", Some("v0.9.0")).reason,
        r#"denied by policy: golang.org/x/mod@v0.9.0 is not on the allow-list (rule "x-releases" allows >= v0.10.0 (releases only))"#
    );
    assert_eq!(
        p.decide("golang.org/x/mod", None).reason,
        r#"allowed by policy rule "x-releases" (for >= v0.10.0 (releases only))"#
    );
}

#[test]
fn overlapping_allow_rules_in_file_order() {
    // Specific first: each rule is reachable.
    let p = policy(
        r#"
mode = "allow-list"
[[allow]]
name = "one-old"
modules = "example.com/a"
versions = "< v1.0.0"
max_zip_size = 10
[[allow]]
name = "a"
modules = "example.com/a"
max_zip_size = 20
[[allow]]
name = "all"
modules = "example.com"
max_zip_size = 30
"#,
    );
    let size = |s: &str| {
        let (m, v) = split(s);
        p.decide(m, v).max_zip_size
    };
    assert_eq!(size("example.com/a@v0.9.0"), Some(10));
    assert_eq!(size("example.com/a@v1.0.0"), Some(20));
    assert_eq!(size("example.com/a/sub@v1.0.0"), Some(20));
    assert_eq!(size("example.com/b@v1.0.0"), Some(30));
    // Broad first makes the later rules unreachable: rejected at load.
    let e = errors(
        r#"
[[allow]]
name = "all"
modules = "example.com"
[[allow]]
name = "a"
modules = "example.com/a"
"#,
    );
    assert_eq!(
        e,
        [
            r#"policy.toml:5:1: rule "a": can never apply: everything it matches is matched first by rule "all" (line 2); put the more specific rule first"#
        ]
    );
}

#[test]
fn version_ranges_at_the_boundaries() {
    let p = policy(
        r#"
[[deny]]
name = "range"
modules = "example.com/r"
versions = ">= v1.2.0, < v1.3.0"
reason = "r"

[[deny]]
name = "le"
modules = "example.com/le"
versions = "<= v1.0.0"
reason = "le"

[[deny]]
name = "incompatible"
modules = "example.com/inc"
versions = ">= v2.0.0"
reason = "i"

[[deny]]
name = "exact"
modules = "example.com/exact"
versions = "= v1.0.0 || = v3.0.0+incompatible"
reason = "e"

[[deny]]
name = "pre-only"
modules = "example.com/pre"
kinds = ["prerelease"]
reason = "p"
"#,
    );
    assert_table(
        &p,
        &[
            ("example.com/r@v1.1.9", "allow:-"),
            ("example.com/r@v1.2.0-rc.1", "allow:-"),
            ("example.com/r@v1.2.0", "deny:range"),
            (
                "example.com/r@v1.2.1-0.20240101000000-abcdefabcdef",
                "deny:range",
            ),
            ("example.com/r@v1.2.9", "deny:range"),
            ("example.com/r@v1.3.0-rc.1", "deny:range"),
            (
                "example.com/r@v1.3.0-0.20240101000000-abcdefabcdef",
                "deny:range",
            ),
            ("example.com/r@v1.3.0", "allow:-"),
            // Version-less: a rule with versions never decides a list.
            ("example.com/r", "allow:-"),
            ("example.com/le@v1.0.0", "deny:le"),
            (
                "example.com/le@v1.0.1-0.20240101000000-abcdefabcdef",
                "allow:-",
            ),
            ("example.com/le@v1.0.0-rc.1", "deny:le"),
            ("example.com/inc@v1.9.9", "allow:-"),
            ("example.com/inc@v2.0.0+incompatible", "deny:incompatible"),
            ("example.com/inc@v2.0.0-rc.1+incompatible", "allow:-"),
            ("example.com/inc/v2@v2.0.0", "deny:incompatible"),
            ("example.com/exact@v1.0.0", "deny:exact"),
            ("example.com/exact@v1.0.1", "allow:-"),
            ("example.com/exact@v3.0.0+incompatible", "deny:exact"),
            ("example.com/pre@v1.0.0-rc.1", "deny:pre-only"),
            ("example.com/pre@v1.0.0", "allow:-"),
            (&format!("example.com/pre@{PSEUDO}"), "allow:-"),
            ("example.com/pre", "allow:-"),
        ],
    );
    assert_eq!(
        p.decide("example.com/r", Some("v1.2.0")).reason,
        r#"denied by policy rule "range": example.com/r@v1.2.0 is in range >= v1.2.0, < v1.3.0 (r)"#
    );
    assert_eq!(
        p.decide("example.com/pre", Some("v1.0.0-rc.1")).reason,
        r#"denied by policy rule "pre-only": example.com/pre@v1.0.0-rc.1 is a pre-release (p)"#
    );
    // An invalid version never gets through.
    assert_eq!(
        verdict(&p.decide("example.com/x", Some("latest"))),
        "deny:-"
    );
}

#[test]
fn pinned_plus_sumdb_requires_both() {
    let sum = format!("example.com/a v1.0.0 {H_A}\nexample.com/a v1.0.0/go.mod {H_B}\n");
    let p = parse_with(
        r#"
[[allow]]
name = "both"
modules = "example.com/a"
proof = ["pinned", "sumdb"]
pins = "a.sum"
"#,
        &[("a.sum", &sum)],
    )
    .unwrap();
    let d = p.decide_artifact("example.com/a", "v1.0.0", ArtifactKind::Zip);
    assert_eq!(
        d.proofs,
        [
            RequiredProof::Sumdb(sumdb::Requirement),
            RequiredProof::Pinned(pinned::Requirement::of_files(&["a.sum"]))
        ]
    );
    assert!(d.public_sumdb_lookup());
    assert_eq!(
        verdict(&p.decide("example.com/a", Some("v1.0.1"))),
        "deny:both"
    );
    assert_eq!(
        p.pinned_h1("example.com/a", "v1.0.0", ArtifactKind::Zip)
            .map(H1::as_str),
        Some(H_A)
    );
}

#[test]
fn pins_in_defaults_are_shared() {
    let sum = format!("example.com/a v1.0.0 {H_A}\n");
    let p = parse_with(
        r#"
[defaults]
pins = ["shared.sum"]

[[allow]]
name = "toolchains"
modules = "golang.org/toolchain"

[[allow]]
name = "a"
modules = "example.com/a"
proof = ["pinned"]
"#,
        &[("shared.sum", &sum)],
    )
    .unwrap();
    assert!(p.decide("example.com/a", Some("v1.0.0")).allowed);
    assert_eq!(
        p.decide("example.com/a", Some("v1.1.0")).reason,
        r#"denied by policy rule "a": example.com/a@v1.1.0 is not pinned in shared.sum"#
    );
    // [defaults] proof is still sumdb: pins alone change nothing for others.
    assert_eq!(
        p.decide("example.com/b", Some("v1.0.0")).proofs,
        [RequiredProof::Sumdb(sumdb::Requirement)]
    );
}

// ---------------------------------------------------------------------------
// Toolchains.
// ---------------------------------------------------------------------------

const TOOLCHAINS: &str = r#"
[[deny]]
name = "no-go1-23-0"
modules = "golang.org/toolchain"
versions = "= v0.0.1-go1.23.0.linux-amd64"
reason = "broken release"

[toolchain]
min_version = "go1.22.0"
versions = "< go1.25"
kinds = ["release"]
platforms = ["linux/*", "darwin/arm64"]
"#;

#[test]
fn toolchain_rules() {
    let p = policy(TOOLCHAINS);
    let table: &[(&str, &str, &str, &str)] = &[
        ("go1.22.0", "linux", "amd64", "allow:-"),
        ("1.22.0", "linux", "amd64", "allow:-"),
        ("go1.24.7", "darwin", "arm64", "allow:-"),
        ("go1.24.7", "linux", "armv6l", "allow:-"),
        ("go1.21.13", "linux", "amd64", "deny:toolchain"),
        ("go1.22rc2", "linux", "amd64", "deny:toolchain"),
        ("go1.25rc1", "linux", "amd64", "deny:toolchain"),
        ("go1.25.0", "linux", "amd64", "deny:toolchain"),
        ("go1.24.7", "darwin", "amd64", "deny:toolchain"),
        ("go1.24.7", "windows", "amd64", "deny:toolchain"),
        ("go1.23.0", "linux", "amd64", "deny:no-go1-23-0"),
        ("go1.23.0", "linux", "arm64", "allow:-"),
        ("gox", "linux", "amd64", "deny:-"),
        ("go1.22.0", "linux", "amd-64", "deny:-"),
    ];
    let mut failures = Vec::new();
    for &(go, os, arch, want) in table {
        let d = p.decide_toolchain(go, os, arch);
        if verdict(&d) != want {
            failures.push(format!("{go} {os}/{arch}: {} ({})", verdict(&d), d.reason));
        }
        if d.allowed && d.proofs != [RequiredProof::Sumdb(sumdb::Requirement)] {
            failures.push(format!("{go} {os}/{arch}: proofs {:?}", d.proofs));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    let reason = |go: &str, os: &str, arch: &str| p.decide_toolchain(go, os, arch).reason;
    assert_eq!(
        reason("go1.21.13", "linux", "amd64"),
        r#"denied by policy rule "toolchain": toolchain go1.21.13 is older than the minimum go1.22.0"#
    );
    assert_eq!(
        reason("go1.25.0", "linux", "amd64"),
        r#"denied by policy rule "toolchain": toolchain go1.25.0 is not in the allowed versions < go1.25"#
    );
    assert_eq!(
        reason("go1.22rc2", "linux", "amd64"),
        r#"denied by policy rule "toolchain": toolchain go1.22rc2 is older than the minimum go1.22.0"#
    );
    assert_eq!(
        reason("go1.24rc1", "linux", "amd64"),
        r#"denied by policy rule "toolchain": toolchain go1.24rc1 is a pre-release and kinds does not include "prerelease""#
    );
    assert_eq!(
        reason("go1.24.7", "windows", "amd64"),
        r#"denied by policy rule "toolchain": toolchain platform windows/amd64 is not allowed (allowed: linux/*, darwin/arm64)"#
    );
    assert_eq!(
        reason("gox", "linux", "amd64"),
        r#"denied by policy: "gox linux/amd64" is not a Go toolchain (want e.g. go1.22.3 linux amd64)"#
    );
    // The same decisions through the module path, as the proxy sees them.
    assert_eq!(
        verdict(&p.decide("golang.org/toolchain", Some("v0.0.1-go1.21.13.linux-amd64"))),
        "deny:toolchain"
    );
    assert_eq!(
        verdict(&p.decide("golang.org/toolchain", Some("v0.0.2"))),
        "deny:toolchain"
    );
    assert_eq!(verdict(&p.decide("golang.org/toolchain", None)), "allow:-");
}

#[test]
fn toolchain_checksum_proof_cannot_be_turned_off() {
    assert_eq!(
        errors_with(
            r#"
[[allow]]
name = "golang"
modules = "golang.org"
proof = ["pinned"]
pins = "g.sum"
"#,
            &[("g.sum", "")]
        )
        .last()
        .unwrap(),
        r#"policy.toml:5:9: rule "golang": its proof would turn off checksum-database proof for golang.org/toolchain, which no policy may do: add "sumdb", or narrow the modules pattern"#
    );
    assert_eq!(
        errors_with(
            r#"
[defaults]
proof = ["pinned"]
pins = "all.sum"
"#,
            &[("all.sum", "")]
        ),
        [
            r#"policy.toml:3:9: [defaults]: this proof applies to golang.org/toolchain, which must always be proven in the checksum database: add "sumdb", or add an [[allow]] rule for golang.org/toolchain with proof = ["sumdb"]"#
        ]
    );
    assert_eq!(
        errors_with(
            r#"
[[private]]
name = "everything-golang"
modules = "golang.org"
upstream = "https://proxy.internal"
pins = "p.sum"
"#,
            &[("p.sum", "")]
        )
        .into_iter()
        .filter(|e| e.contains("never be private"))
        .collect::<Vec<_>>(),
        [
            r#"policy.toml:2:1: rule "everything-golang": golang.org/toolchain can never be private: Go toolchains must always be proven in the checksum database; narrow the modules pattern"#
        ]
    );
    // Pinned-only defaults are fine once toolchains have their own rule.
    let p = parse_with(
        r#"
[defaults]
proof = ["pinned"]
pins = "all.sum"

[[allow]]
name = "toolchains"
modules = "golang.org/toolchain"
proof = ["sumdb"]
"#,
        &[("all.sum", "")],
    )
    .unwrap();
    let d = p.decide_toolchain("go1.22.3", "linux", "amd64");
    assert!(d.allowed);
    assert_eq!(d.proofs, [RequiredProof::Sumdb(sumdb::Requirement)]);
    // In allow-list mode [toolchain] without an allow rule can never apply.
    assert_eq!(
        errors("mode = \"allow-list\"\n[toolchain]\nmin_version = \"go1.22.0\"\n"),
        [
            "policy.toml:2:1: [toolchain]: can never apply: in allow-list mode no [[allow]] rule matches golang.org/toolchain, so every toolchain is denied"
        ]
    );
}

// ---------------------------------------------------------------------------
// Explain.
// ---------------------------------------------------------------------------

#[test]
fn explain_lists_every_matching_rule_in_order() {
    let p = combine();
    let x = p.explain(
        "github.com/a/b",
        Some("v1.0.1-0.20240101000000-abcdefabcdef"),
    );
    let steps: Vec<(&str, &str, usize, &str)> = x
        .steps
        .iter()
        .map(|s| (s.section, s.rule.as_str(), s.line, s.note.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            (
                "deny",
                "no-pseudo",
                18,
                "github.com/a/b@v1.0.1-0.20240101000000-abcdefabcdef is a pseudo-version: decides, denied"
            ),
            (
                "deny",
                "no-old-a",
                24,
                "github.com/a/b@v1.0.1-0.20240101000000-abcdefabcdef is in range < v2.0.0: also denies (an earlier deny rule names the reason)"
            ),
        ]
    );
    let x = p.explain("github.com/a/b", Some("v2.0.0"));
    assert_eq!(
        x.to_string(),
        r#"github.com/a/b@v2.0.0 (policy policy.toml)
  deny "no-pseudo" (line 18): path matches "github.com" but v2.0.0 is not selected (pseudo-versions only)
  deny "no-old-a" (line 24): path matches "github.com/a" but v2.0.0 is not selected (< v2.0.0)
  allow "a-specific" (line 35): matches "github.com/a/b": supplies the settings
  allow "github" (line 41): matches "github.com", but an earlier allow rule comes first
decision: allowed by policy rule "a-specific"
proof required: checksum database (sumdb)
route: the public upstream
zip size limit: 2 MiB
retracted versions: served
"#
    );
    let x = p.explain("corp.example.com/lib", Some("v1.0.0"));
    assert_eq!(
        x.to_string(),
        r#"corp.example.com/lib@v1.0.0 (policy policy.toml)
  private "corp" (line 45): path matches "corp.example.com": private, supplies the settings
decision: allowed by policy rule "corp" (private: fetched from https://goproxy.corp.example.com, never looked up in a public checksum database)
proof required: pinned hashes (corp.sum)
route: private upstream https://goproxy.corp.example.com; never looked up in a public checksum database
zip size limit: the server's
retracted versions: denied
"#
    );
    let x = policy("").explain("example.com/m", Some("v1.0.0"));
    assert_eq!(
        x.steps,
        [ExplainStep {
            section: "defaults",
            rule: String::new(),
            line: 0,
            note: "no rule matches: open mode, the [defaults] settings apply".into(),
        }]
    );
}

// ---------------------------------------------------------------------------
// Bad policy files: each mistake → its message, line and column.
// ---------------------------------------------------------------------------

#[test]
fn bad_policy_files_name_line_and_column() {
    let cases: &[(&str, &str)] = &[
        // TOML syntax.
        (
            "mode = \"open\"\ndeny = [\n",
            "policy.toml:2:9: unclosed array, expected `]`",
        ),
        // Unknown fields, at every level.
        (
            "mdoe = \"open\"\n",
            "policy.toml:1:1: unknown field `mdoe`, expected one of `mode`, `defaults`, `deny`, `allow`, `private`, `toolchain`, `signer`",
        ),
        (
            "[[deny]]\nname = \"x\"\nmodules = \"a.com\"\nreason = \"r\"\nversion = \"< v1.0.0\"\n",
            "policy.toml:5:1: unknown field `version`, expected one of `name`, `modules`, `versions`, `kinds`, `reason`",
        ),
        (
            "[defaults]\nproofs = [\"sumdb\"]\n",
            "policy.toml:2:1: unknown field `proofs`, expected one of `proof`, `pins`, `max_zip_size`, `deny_retracted`",
        ),
        (
            "[toolchain]\nplatform = \"linux/amd64\"\n",
            "policy.toml:2:1: unknown field `platform`, expected one of `min_version`, `versions`, `kinds`, `platforms`, `proof`, `signers`, `signatures`, `signed`",
        ),
        // Missing and mistyped fields.
        (
            "[[deny]]\nname = \"x\"\nmodules = \"a.com\"\n",
            "policy.toml:1:1: missing field `reason`",
        ),
        (
            "[[allow]]\nname = \"x\"\nmodules = 3\n",
            "policy.toml:3:11: invalid type: integer `3`, expected a string or an array of strings",
        ),
        // Mode.
        (
            "mode = \"closed\"\n",
            r#"policy.toml:1:8: mode: unknown mode "closed": expected "open" or "allow-list""#,
        ),
        // Patterns.
        (
            "[[allow]]\nname = \"x\"\nmodules = \"github.com/[abc\"\n",
            r#"policy.toml:3:11: rule "x": bad module pattern "github.com/[abc": syntax error in pattern"#,
        ),
        (
            "[[allow]]\nname = \"x\"\nmodules = [\"github.com/a\", \"github\"]\n",
            r#"policy.toml:3:28: rule "x": module pattern "github" can never match a module path: missing dot in first path element"#,
        ),
        (
            "[[allow]]\nname = \"x\"\nmodules = \"a.com,,b.com\"\n",
            r#"policy.toml:3:11: rule "x": empty module pattern"#,
        ),
        (
            "[[allow]]\nname = \"x\"\nmodules = []\n",
            r#"policy.toml:3:11: rule "x": modules is empty: the rule can never match"#,
        ),
        // Versions.
        (
            "[[deny]]\nname = \"x\"\nmodules = \"a.com\"\nversions = \"< 1.2.3\"\nreason = \"r\"\n",
            r#"policy.toml:4:12: rule "x": bad versions: "1.2.3" is not a semantic version (module versions start with "v": "v1.2.3")"#,
        ),
        (
            "[[deny]]\nname = \"x\"\nmodules = \"a.com\"\nversions = \">= v1.3.0, < v1.2.0\"\nreason = \"r\"\n",
            r#"policy.toml:4:12: rule "x": bad versions: version range ">= v1.3.0, < v1.2.0" is empty: no version can match it"#,
        ),
        (
            "[[deny]]\nname = \"x\"\nmodules = \"a.com\"\nkinds = [\"beta\"]\nreason = \"r\"\n",
            r#"policy.toml:4:10: rule "x": unknown version kind "beta": expected "release", "prerelease" or "pseudo""#,
        ),
        (
            "[[deny]]\nname = \"x\"\nmodules = \"a.com\"\nkinds = []\nreason = \"r\"\n",
            r#"policy.toml:4:9: rule "x": kinds is empty: the rule can never match"#,
        ),
        // Proof kinds.
        (
            "[[allow]]\nname = \"signed\"\nmodules = \"a.com\"\nproof = [\"sumdb\", \"signature\"]\nsignatures = \"file:///s/{module}/@v/{version}{file}.sig\"\n",
            r#"policy.toml:4:9: rule "signed": proof "signature" needs signers = ["…"]: the [[signer]]s it accepts"#,
        ),
        (
            "[defaults]\nproof = [\"sumdb\", \"signature\"]\n",
            r#"policy.toml:2:9: [defaults]: proof "signature" is set per rule, with the signers it accepts and where signatures live: list it in an [[allow]] or [[private]] rule"#,
        ),
        (
            "[[allow]]\nname = \"x\"\nmodules = \"a.com\"\nproof = [\"gpg\"]\n",
            r#"policy.toml:4:10: rule "x": unknown proof kind "gpg": expected "sumdb", "pinned", "signature""#,
        ),
        (
            "[[allow]]\nname = \"x\"\nmodules = \"a.com\"\nsigners = [\"s\"]\n",
            r#"policy.toml:4:11: rule "x": signers is only used with proof "signature", which this rule does not require"#,
        ),
        (
            "[[allow]]\nname = \"x\"\nmodules = \"a.com\"\nproof = []\n",
            r#"policy.toml:4:9: rule "x": proof must name at least one kind: goward never serves unproven modules"#,
        ),
        (
            "[[allow]]\nname = \"x\"\nmodules = \"a.com\"\nproof = [\"sumdb\", \"sumdb\"]\n",
            r#"policy.toml:4:19: rule "x": proof "sumdb" is listed twice"#,
        ),
        (
            "[[allow]]\nname = \"x\"\nmodules = \"a.com\"\nproof = [\"pinned\"]\n",
            r#"policy.toml:4:9: rule "x": proof "pinned" needs pin files: set pins here or in [defaults]"#,
        ),
        (
            "[[allow]]\nname = \"x\"\nmodules = \"a.com\"\npins = \"a.sum\"\n",
            r#"policy.toml:4:8: rule "x": pins are only used with proof "pinned", which this rule does not require"#,
        ),
        (
            "[[allow]]\nname = \"x\"\nmodules = \"a.com\"\nproof = \"pinned\"\npins = \"missing.sum\"\n",
            r#"policy.toml:5:8: rule "x": reading pins file "missing.sum": No such file or directory"#,
        ),
        // Names.
        (
            "[[deny]]\nname = \"dup\"\nmodules = \"a.com\"\nreason = \"r\"\n\n[[allow]]\nname = \"dup\"\nmodules = \"b.com\"\n",
            r#"policy.toml:7:8: duplicate rule name "dup": first used at line 2, column 8"#,
        ),
        (
            "[[allow]]\nname = \"has space\"\nmodules = \"a.com\"\n",
            r#"policy.toml:2:8: bad rule name "has space": use 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit"#,
        ),
        (
            "[[allow]]\nname = \"default\"\nmodules = \"a.com\"\n",
            r#"policy.toml:2:8: rule name "default" is reserved (decisions without a rule and the [toolchain] section use it)"#,
        ),
        // Deny needs a reason.
        (
            "[[deny]]\nname = \"x\"\nmodules = \"a.com\"\nreason = \"  \"\n",
            r#"policy.toml:4:10: rule "x": reason is empty: say why, it is shown to the user who is denied"#,
        ),
        // Sizes.
        (
            "[defaults]\nmax_zip_size = 0\n",
            "policy.toml:2:16: [defaults]: bad max_zip_size 0: must be positive",
        ),
        (
            "[defaults]\nmax_zip_size = \"12 XB\"\n",
            r#"policy.toml:2:16: [defaults]: bad max_zip_size "12 XB": unknown unit "xb": want a number of bytes, or a number and a unit: B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), e.g. 100MiB"#,
        ),
        // Toolchain.
        (
            "[toolchain]\nmin_version = \"1.22\"\n",
            "", // valid: Go versions may omit the "go" prefix
        ),
        (
            "[toolchain]\nmin_version = \"go1.22.x\"\n",
            r#"policy.toml:2:15: [toolchain]: bad min_version: "go1.22.x" is not a Go version (e.g. "go1.22.3", "go1.23rc1")"#,
        ),
        (
            "[toolchain]\nmin_version = \"go1.24.0\"\nversions = \"< go1.23\"\n",
            "policy.toml:3:12: [toolchain]: no version satisfies both min_version go1.24.0 and versions < go1.23: no toolchain can ever be served",
        ),
        (
            "[toolchain]\nplatforms = [\"linux/amd64\", \"linux/armv6l\"]\n",
            r#"policy.toml:2:29: [toolchain]: platform "linux/armv6l" can never match: "armv6l" is not a known GOARCH (toolchains call it "arm")"#,
        ),
        (
            "[toolchain]\nkinds = [\"pseudo\"]\n",
            "policy.toml:2:10: [toolchain]: toolchains have no pseudo-versions",
        ),
    ];
    let mut failures = Vec::new();
    for &(text, want) in cases {
        let got = match parse_with(text, &[("a.sum", "")]) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        };
        if got != want {
            failures.push(format!("{text:?}\n   got: {got}\n  want: {want}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn private_rule_mistakes() {
    let base = |extra: &str| {
        format!(
            "[[private]]\nname = \"p\"\nmodules = \"corp.example.com\"\npins = \"p.sum\"\n{extra}"
        )
    };
    let cases: Vec<(String, &str)> = vec![
        (
            base("upstream = \"https://ci:hunter2@goproxy.corp.example.com\"\n"),
            r#"policy.toml:5:12: rule "p": upstream "https://ci:hunter2@goproxy.corp.example.com" has credentials in the URL; secrets never go in a policy: use auth with token_env, token_file, password_env, password_file or a netrc file"#,
        ),
        (
            base("upstream = \"https://goproxy.corp\"\nauth = { type = \"bearer\", token = \"s3cret\" }\n"),
            r#"policy.toml:6:35: rule "p": inline secrets are not allowed in a policy: use token_env (an environment variable) or token_file instead of token"#,
        ),
        (
            base("upstream = \"https://goproxy.corp\"\n[private.auth]\ntype = \"basic\"\nusername = \"ci\"\npassword = \"s3cret\"\n"),
            r#"policy.toml:9:12: rule "p": inline secrets are not allowed in a policy: use password_env (an environment variable) or password_file instead of password"#,
        ),
        (
            base("upstream = \"https://goproxy.corp\"\nauth = { type = \"oauth\" }\n"),
            r#"policy.toml:6:17: rule "p": unknown auth type "oauth": expected "bearer", "basic" or "netrc""#,
        ),
        (
            base("upstream = \"https://goproxy.corp\"\nauth = { type = \"bearer\" }\n"),
            r#"policy.toml:6:8: rule "p": auth type "bearer" needs token_env or token_file"#,
        ),
        (
            base("upstream = \"https://goproxy.corp\"\nauth = { type = \"bearer\", token_env = \"A\", token_file = \"t\" }\n"),
            r#"policy.toml:6:57: rule "p": give either token_env or token_file, not both"#,
        ),
        (
            base("upstream = \"https://goproxy.corp\"\nauth = { type = \"bearer\", token_env = \"MY-TOKEN\" }\n"),
            r#"policy.toml:6:39: rule "p": token_env must name an environment variable, not "MY-TOKEN""#,
        ),
        (
            base("upstream = \"https://goproxy.corp\"\nauth = { type = \"netrc\", username = \"u\", file = \"n\" }\n"),
            r#"policy.toml:6:37: rule "p": auth type "netrc" does not take username"#,
        ),
        (
            base("upstream = \"https://goproxy.corp\"\nauth = { type = \"basic\", password_env = \"P\" }\n"),
            r#"policy.toml:6:8: rule "p": auth type "basic" needs username"#,
        ),
        (
            base("upstream = \"http://goproxy.corp\"\nauth = { type = \"bearer\", token_env = \"T\" }\n"),
            r#"policy.toml:5:12: rule "p": credentials would be sent in clear text to "http://goproxy.corp"; use https://"#,
        ),
        (
            base("upstream = \"direct\"\n"),
            r#"policy.toml:5:12: rule "p": upstream "direct" is not supported: goward does not fetch from version control"#,
        ),
        (
            base("upstream = \"ftp://x.example\"\n"),
            r#"policy.toml:5:12: rule "p": bad upstream "ftp://x.example": expected an http://, https:// or file:// URL"#,
        ),
        (
            base("upstream = \" , \"\n"),
            r#"policy.toml:5:12: rule "p": upstream is empty: a private rule needs its own upstream proxy"#,
        ),
        (
            base("upstream = \"https://goproxy.corp\"\nproof = [\"sumdb\", \"pinned\"]\n"),
            r#"policy.toml:6:10: rule "p": private modules are never looked up in a public checksum database; use proof = ["pinned"]"#,
        ),
        (
            "[[private]]\nname = \"p\"\nmodules = \"corp.example.com\"\nupstream = \"https://goproxy.corp\"\n".to_owned(),
            r#"policy.toml:1:1: rule "p": a private rule needs pins = ["….sum"]: its modules can only be proven by pinned hashes"#,
        ),
    ];
    let mut failures = Vec::new();
    for (text, want) in &cases {
        let got = match parse_with(text, &[("p.sum", "")]) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        };
        if got != *want {
            failures.push(format!("{text}\n   got: {got}\n  want: {want}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    // The accepted forms (a file:// path must be absolute on the OS goward runs on).
    let upstream = if cfg!(windows) {
        "goproxy.corp.example.com|file:///C:/srv/mirror"
    } else {
        "goproxy.corp.example.com|file:///srv/mirror"
    };
    let p = parse_with(
        &base(&format!(
            "upstream = \"{upstream}\"\nauth = {{ type = \"basic\", username = \"ci\", password_file = \"secrets/pw\" }}\n",
        )),
        &[("p.sum", "")],
    )
    .unwrap();
    assert_eq!(
        p.decide("corp.example.com/x", None).private,
        Some(PrivateRoute {
            rule: "p".into(),
            upstream: upstream.into(),
            auth: Some(Auth::Basic {
                username: "ci".into(),
                password: Secret::File(PathBuf::from("secrets/pw")),
            }),
        })
    );
    let p = parse_with(
        &base("upstream = \"http://127.0.0.1:8081\"\nauth = { type = \"netrc\", file = \"/etc/netrc\" }\n"),
        &[("p.sum", "")],
    )
    .unwrap();
    assert_eq!(
        p.decide("corp.example.com/x", None).private.unwrap().auth,
        Some(Auth::Netrc {
            file: PathBuf::from("/etc/netrc")
        })
    );
}

/// A private upstream is checked by the parser the service builds the route
/// with: these passed the policy's own checks before, then failed at serve time.
#[test]
fn private_upstream_is_refused_as_serve_refuses_it() {
    let base = |upstream: &str| {
        format!(
            "[[private]]\nname = \"p\"\nmodules = \"corp.example.com\"\npins = \"p.sum\"\nupstream = '{upstream}'\n"
        )
    };
    let mut cases = vec![
        (
            "file://mirror.corp/srv/goproxy",
            r#"policy.toml:5:12: rule "p": upstream list entry "file://mirror.corp/srv/goproxy": a file:// URL may hold only an absolute path (no host, user, port, query or fragment)"#,
        ),
        (
            "https://goproxy.corp:99999",
            r#"policy.toml:5:12: rule "p": upstream list entry "https://goproxy.corp:99999": invalid URL: invalid port number"#,
        ),
    ];
    if cfg!(windows) {
        cases.push((
            r"C:\goproxy",
            r#"policy.toml:5:12: rule "p": bad upstream "C:\\goproxy": expected an http://, https:// or file:// URL"#,
        ));
    }
    let client = crate::upstream::testutil::client();
    for (upstream, want) in cases {
        let err = crate::upstream::ProxyList::parse(upstream, &client).map(|_| ());
        assert!(err.is_err(), "{upstream}: the service accepts it");
        let got = parse_with(&base(upstream), &[("p.sum", "")]).map(|_| ());
        assert_eq!(got.unwrap_err().to_string(), want, "{upstream}");
    }
}

#[test]
fn unreachable_rules_are_rejected() {
    let cases: &[(&str, &[&str])] = &[
        (
            // A deny shadowed by an earlier broader deny.
            r#"
[[deny]]
name = "all-yaml"
modules = "gopkg.in"
reason = "no yaml"

[[deny]]
name = "old-yaml"
modules = "gopkg.in/yaml.v2"
versions = "< v2.2.8"
reason = "CVE"
"#,
            &[
                r#"policy.toml:7:1: rule "old-yaml": can never apply: everything it matches is already denied by rule "all-yaml" (line 2)"#,
            ],
        ),
        (
            // An allow rule that a deny covers (in either order).
            r#"
[[allow]]
name = "old-a"
modules = "example.com/a"
versions = "< v1.0.0"

[[deny]]
name = "no-v0"
modules = "example.com"
versions = "< v1.0.0"
reason = "unstable"
"#,
            &[
                r#"policy.toml:2:1: rule "old-a": can never apply: everything it matches is denied by rule "no-v0" (line 7); deny always wins"#,
            ],
        ),
        (
            // An allow rule whose paths are all private.
            r#"
[[private]]
name = "corp"
modules = "corp.example.com"
upstream = "https://goproxy.corp.example.com"
pins = "p.sum"

[[allow]]
name = "corp-lib"
modules = "corp.example.com/lib"
max_zip_size = 100
"#,
            &[
                r#"policy.toml:8:1: rule "corp-lib": can never apply: every module it matches is private (rule "corp", line 2), and private modules take their settings from their [[private]] rule"#,
            ],
        ),
        (
            // A private rule behind a broader one.
            r#"
[[private]]
name = "corp"
modules = "*.example.com"
upstream = "https://goproxy.corp.example.com"
pins = "p.sum"

[[private]]
name = "git"
modules = "git.example.com/team"
upstream = "https://git-proxy.example.com"
pins = "p.sum"
"#,
            &[
                r#"policy.toml:8:1: rule "git": can never apply: everything it matches is matched first by private rule "corp" (line 2)"#,
            ],
        ),
        (
            // A private rule that a deny covers.
            r#"
[[deny]]
name = "no-corp"
modules = "corp.example.com"
reason = "moved"

[[private]]
name = "corp"
modules = "corp.example.com/lib"
upstream = "https://goproxy.corp.example.com"
pins = "p.sum"
"#,
            &[
                r#"policy.toml:7:1: rule "corp": can never apply: everything it matches is denied by rule "no-corp" (line 2); deny always wins"#,
            ],
        ),
        (
            // Allow-list mode: a deny outside the allow-list (by path, then by version).
            r#"
mode = "allow-list"

[[deny]]
name = "no-yaml-v2"
modules = "gopkg.in/yaml.v2"
reason = "use v3"

[[deny]]
name = "no-old-uuid"
modules = "github.com/google/uuid"
versions = "< v1.3.0"
reason = "old"

[[allow]]
name = "uuid"
modules = "github.com/google/uuid"
versions = ">= v1.3.0"

[[allow]]
name = "yaml-v3"
modules = "gopkg.in/yaml.v3"
"#,
            &[
                r#"policy.toml:4:1: rule "no-yaml-v2": can never apply: in allow-list mode nothing it matches is allowed by an [[allow]] or [[private]] rule, so it is denied anyway"#,
                r#"policy.toml:9:1: rule "no-old-uuid": can never apply: in allow-list mode nothing it matches is allowed by an [[allow]] or [[private]] rule, so it is denied anyway"#,
            ],
        ),
    ];
    let mut failures = Vec::new();
    for &(text, want) in cases {
        let got = errors_with(text, &[("p.sum", "")]);
        if got != want {
            failures.push(format!("{text}\n   got: {got:#?}\n  want: {want:#?}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    // Overlapping but not covered: fine (each rule still decides something).
    policy(
        r#"
[[deny]]
name = "a"
modules = "example.com/a"
versions = "< v1.0.0"
reason = "a"
[[deny]]
name = "b"
modules = "example.com"
versions = "< v0.5.0 || >= v3.0.0"
reason = "b"
[[allow]]
name = "c"
modules = "example.com/a"
"#,
    );
}

#[test]
fn pin_file_mistakes_name_file_line_and_column() {
    let text = "[[allow]]\nname = \"x\"\nmodules = \"example.com\"\nproof = [\"sumdb\", \"pinned\"]\npins = [\"a.sum\", \"b.sum\"]\n";
    let a = format!("example.com/a v1.0.0 {H_A}\nexample.com/a v1.0.0/go.mod\n");
    let b = format!("example.com/b v1.0.0 {H_B}\n");
    assert_eq!(
        errors_with(text, &[("a.sum", &a), ("b.sum", &b)]),
        [r#"a.sum:2:1: malformed go.sum line: want "module version h1:hash", found 2 fields"#]
    );
    let b = format!("example.com/a v1.0.0 {H_B}\n");
    let a = format!("example.com/a v1.0.0 {H_A}\n");
    assert_eq!(
        errors_with(text, &[("a.sum", &a), ("b.sum", &b)]),
        [format!(
            "b.sum:1:22: conflicting pins for example.com/a@v1.0.0 (zip): {H_B} here, {H_A} at a.sum:1:22"
        )]
    );
}

#[test]
fn every_problem_is_reported_in_file_order() {
    let e = errors(
        r#"
mode = "strict"

[[deny]]
name = "x"
modules = "nodot"
reason = "r"

[[allow]]
name = "x"
modules = "a.com"
proof = ["gpg"]
"#,
    );
    assert_eq!(
        e,
        [
            r#"policy.toml:2:8: mode: unknown mode "strict": expected "open" or "allow-list""#,
            r#"policy.toml:6:11: rule "x": module pattern "nodot" can never match a module path: missing dot in first path element"#,
            r#"policy.toml:10:8: duplicate rule name "x": first used at line 5, column 8"#,
            r#"policy.toml:12:10: rule "x": unknown proof kind "gpg": expected "sumdb", "pinned", "signature""#,
        ]
    );
}

// ---------------------------------------------------------------------------
// The shipped policies.
// ---------------------------------------------------------------------------

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

#[test]
fn every_shipped_policy_loads() {
    let mut names = vec![repo("policy/default.toml")];
    let mut examples: Vec<PathBuf> = std::fs::read_dir(repo("policy/examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    examples.sort();
    assert!(examples.len() >= 3, "{examples:?}");
    names.extend(examples);
    for n in &names {
        let loaded = Policy::load(n);
        // Its internal mirror is `file:///srv/…`: on Windows a file:// URL
        // must name a drive (as cmd/go requires), and loading says so.
        if cfg!(windows) && n.ends_with("air-gapped.toml") {
            let e = loaded.expect_err("file:///srv/… without a drive on Windows");
            assert!(
                e.to_string()
                    .contains("a file:// URL on Windows must name a drive"),
                "{e}"
            );
            continue;
        }
        if let Err(e) = loaded {
            panic!("{}:\n{e}", n.display());
        }
    }
    // The embedded copy is the file.
    assert_eq!(
        DEFAULT_POLICY,
        std::fs::read_to_string(repo("policy/default.toml")).unwrap()
    );
}

#[test]
fn strict_corporate_example_decisions() {
    let p = Policy::load(&repo("policy/examples/strict-corporate.toml")).unwrap();
    assert_eq!(
        p.decide("gopkg.in/yaml.v2", Some("v2.2.1")).reason,
        r#"denied by policy rule "no-vulnerable-yaml": gopkg.in/yaml.v2@v2.2.1 is in range < v2.2.8 (CVE-2019-11254: excessive CPU use parsing crafted YAML; use v2.2.8 or later)"#
    );
    assert_table(
        &p,
        &[
            ("gopkg.in/yaml.v2@v2.4.0", "allow:vetted"),
            ("gopkg.in/yaml.v3@v3.0.0-rc.1", "deny:-"),
            (
                &format!("github.com/google/uuid@{PSEUDO}"),
                "deny:no-untagged-commits",
            ),
            ("github.com/evil/pkg@v1.0.0", "deny:-"),
            ("golang.org/x/net@v0.22.0", "deny:no-vulnerable-x-net"),
            ("golang.org/x/net@v0.23.0", "allow:golang-x"),
            ("cloud.google.com/go/storage@v1.40.0", "allow:large-sdks"),
        ],
    );
    let d = p.decide("cloud.google.com/go/storage", Some("v1.40.0"));
    assert_eq!(d.max_zip_size, Some(300 << 20));
    assert!(d.deny_retracted);
    assert_eq!(
        p.decide("golang.org/x/net", Some("v0.23.0")).max_zip_size,
        Some(100 << 20)
    );
    assert!(p.decide_toolchain("go1.22.3", "linux", "amd64").allowed);
    assert!(!p.decide_toolchain("go1.21.13", "linux", "amd64").allowed);
    assert!(!p.decide_toolchain("go1.23rc1", "linux", "amd64").allowed);
    assert!(!p.decide_toolchain("go1.22.3", "freebsd", "amd64").allowed);
}

#[test]
fn private_modules_example_decisions() {
    let p = Policy::load(&repo("policy/examples/private-modules.toml")).unwrap();
    let d = p.decide_artifact("corp.example.com/lib", "v1.5.0", ArtifactKind::Zip);
    assert!(d.allowed, "{}", d.reason);
    let route = d.private.unwrap();
    assert_eq!(route.upstream, "https://goproxy.corp.example.com");
    assert_eq!(
        route.auth,
        Some(Auth::Bearer {
            token: Secret::Env("GOWARD_CORP_PROXY_TOKEN".into())
        })
    );
    assert_eq!(
        p.pinned_h1("corp.example.com/lib", "v1.5.0", ArtifactKind::Zip)
            .map(H1::as_str),
        Some("h1:4GZfeXJHQj+xfobl6fe2e34ber6jD7SfZxO/gRyLpks=")
    );
    assert!(!p.decide("corp.example.com/lib", Some("v1.6.0")).allowed);
    assert!(
        p.decide("git.corp.example.com/platform/auth/v2", Some("v2.0.0"))
            .allowed
    );
    let d = p.decide("partner.example.net/shared", Some("v0.3.1"));
    assert_eq!(d.max_zip_size, Some(20 << 20));
    assert!(matches!(
        d.private.unwrap().auth,
        Some(Auth::Basic { ref username, .. }) if username == "corp-ci"
    ));
    // Legacy: only the go.mod is pinned.
    assert!(
        p.decide_artifact("legacy.corp.example.org/tools", "v1.0.0", ArtifactKind::Mod)
            .allowed
    );
    assert!(
        !p.decide_artifact("legacy.corp.example.org/tools", "v1.0.0", ArtifactKind::Zip)
            .allowed
    );
    let d = p.decide("github.com/corp-example/fork-of-x", Some("v1.0.0"));
    assert_eq!(d.proofs.len(), 2);
    assert!(d.public_sumdb_lookup());
    let d = p.decide("github.com/other/x", Some("v1.0.0"));
    assert_eq!(d.proofs, [RequiredProof::Sumdb(sumdb::Requirement)]);
}

#[test]
// On Windows the example does not load (see `every_shipped_policy_loads`).
#[cfg(not(windows))]
fn air_gapped_example_decisions() {
    let p = Policy::load(&repo("policy/examples/air-gapped.toml")).unwrap();
    let d = p.decide_artifact("golang.org/x/mod", "v0.43.0", ArtifactKind::Zip);
    assert!(d.allowed, "{}", d.reason);
    assert_eq!(d.proofs.len(), 2);
    assert!(!p.decide("golang.org/x/mod", Some("v0.42.0")).allowed);
    assert!(!p.decide("golang.org/x/sync", Some("v0.1.0-rc.1")).allowed);
    assert!(!p.decide("github.com/any/thing", Some("v1.0.0")).allowed);
    let d = p.decide("internal.example/build/tools", Some("v1.2.0"));
    assert!(d.allowed && !d.public_sumdb_lookup());
    let d = p.decide_toolchain("go1.23.6", "linux", "amd64");
    assert!(d.allowed);
    assert_eq!(d.proofs, [RequiredProof::Sumdb(sumdb::Requirement)]);
    assert!(!p.decide_toolchain("go1.23.5", "linux", "amd64").allowed);
    assert!(!p.decide_toolchain("go1.23.6", "darwin", "arm64").allowed);
}

// ---------------------------------------------------------------------------
// The command line.
// ---------------------------------------------------------------------------

fn run_cli(args: &[&str]) -> (u8, String, String) {
    use clap::Parser;
    #[derive(Parser)]
    struct T {
        #[command(subcommand)]
        cmd: cli::PolicyCommand,
    }
    let mut full = vec!["policy"];
    full.extend_from_slice(args);
    let t = T::try_parse_from(full).unwrap();
    let args = cli::PolicyArgs { command: t.cmd };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = cli::run_to(&args, &mut out, &mut err);
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

#[test]
fn cli_check() {
    let good = repo("policy/examples/strict-corporate.toml");
    let (code, out, err) = run_cli(&["check", good.to_str().unwrap()]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(
        out.starts_with(&format!("{}: valid\nmode: allow-list\n", good.display())),
        "{out}"
    );
    assert!(
        out.contains(
            "  1. \"no-vulnerable-yaml\" (line 22): gopkg.in/yaml.v2 < v2.2.8: CVE-2019-11254"
        ),
        "{out}"
    );
    let bad = repo("testdata/policy/bad.toml");
    let (code, out, err) = run_cli(&["check", bad.to_str().unwrap()]);
    assert_eq!((code, out.as_str()), (2, ""));
    let b = bad.display();
    assert_eq!(
        err,
        format!(
            "{b}:7:12: rule \"old-yaml\": bad versions: \"2.2.8\" is not a semantic version (module versions start with \"v\": \"v2.2.8\")\n\
             {b}:16:9: rule \"signed\": proof \"signature\" needs signers = [\"…\"]: the [[signer]]s it accepts\n\
             {b}:16:9: rule \"signed\": proof \"signature\" needs signatures = \"file:///…/{{module}}/@v/{{version}}{{file}}.sig\" (or https://… or upstream:…): where the signatures live\n\
             {b}:17:1: rule \"vetted-yaml\": can never apply: everything it matches is denied by rule \"no-yaml\" (line 9); deny always wins\n"
        )
    );
    let (code, _, err) = run_cli(&["check", "/nonexistent/policy.toml"]);
    assert_eq!(code, 2);
    assert!(
        err.starts_with("reading policy file /nonexistent/policy.toml: "),
        "{err}"
    );
}

#[test]
fn cli_explain() {
    let strict = repo("policy/examples/strict-corporate.toml");
    let s = strict.to_str().unwrap();
    let (code, out, _) = run_cli(&["explain", "gopkg.in/yaml.v2@v2.2.1", "--policy", s]);
    assert_eq!(code, 1);
    assert!(
        out.ends_with("decision: denied by policy rule \"no-vulnerable-yaml\": gopkg.in/yaml.v2@v2.2.1 is in range < v2.2.8 (CVE-2019-11254: excessive CPU use parsing crafted YAML; use v2.2.8 or later)\n"),
        "{out}"
    );
    let (code, out, _) = run_cli(&["explain", "golang.org/x/text@v0.14.0", "--policy", s]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("proof required: checksum database (sumdb)\n"),
        "{out}"
    );
    // Embedded default.
    let (code, out, _) = run_cli(&["explain", "example.com/m@v1.0.0"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("example.com/m@v1.0.0 (policy <embedded default policy>)\n"),
        "{out}"
    );
    // Usage errors.
    let (code, _, err) = run_cli(&["explain", "nodot@v1.0.0"]);
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "goward: malformed module path \"nodot\": missing dot in first path element\n"
    );
    let (code, _, err) = run_cli(&["explain", "example.com/m@v1.0"]);
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "goward: example.com/m@v1.0: not a canonical version (the go command asks for v1.0.0)\n"
    );
    let bad = repo("testdata/policy/bad.toml");
    let (code, _, _) = run_cli(&[
        "explain",
        "example.com/m@v1.0.0",
        "--policy",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
}

#[test]
fn policy_is_shareable_across_threads() {
    fn shareable<T: Send + Sync + Clone + 'static>() {}
    shareable::<Policy>();
    shareable::<Decision>();
}

const COSIGN_PUB: &str = include_str!("../../testdata/sigstore/cosign.pub");
const FAKE_ROOT: &str = include_str!("../../testdata/sigstore/trusted_root.json");

#[test]
fn signers_load_and_are_described() {
    let text = r#"
[[signer]]
name = "release"
identity_regexp = 'https://github\.com/example/mod/\.github/workflows/release\.yml@refs/tags/v.*'
issuer = "https://token.actions.githubusercontent.com"

[[signer]]
name = "corp-ci"
identity = "ci@corp.example"
issuer_regexp = 'https://sso\.corp\.example/.*'
trusted_root = "sigstore/trusted_root.json"

[[signer]]
name = "internal"
key = "keys/cosign.pub"
trusted_root = "github"
"#;
    let p = parse_with(
        text,
        &[
            ("keys/cosign.pub", COSIGN_PUB),
            ("sigstore/trusted_root.json", FAKE_ROOT),
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.signers.len(), 3);
    let d = p.describe();
    assert!(
        d.contains(
            "signers (3; declared and checked):\n  \
             1. \"release\" (line 3): keyless identity regexp \
             \"https://github\\\\.com/example/mod/\\\\.github/workflows/release\\\\.yml@refs/tags/v.*\", \
             issuer \"https://token.actions.githubusercontent.com\"; trusted root public-good\n  \
             2. \"corp-ci\" (line 8): keyless identity \"ci@corp.example\", issuer regexp \
             \"https://sso\\\\.corp\\\\.example/.*\"; trusted root sigstore/trusted_root.json\n  \
             3. \"internal\" (line 14): key; trusted root github\n"
        ),
        "{d}"
    );
    // Without signers the description is as before.
    assert!(!policy("").describe().contains("signers"));
}

#[test]
fn bad_signers_are_reported_each_with_its_place() {
    let text = r#"
[[signer]]
name = "no-issuer"
identity = "a@example.com"

[[signer]]
name = "both"
identity = "a@example.com"
identity_regexp = "a@.*"
issuer = "https://accounts.google.com"

[[signer]]
name = "bad-re"
identity_regexp = "("
issuer = "https://accounts.google.com"

[[signer]]
name = "key-and-identity"
key = "cosign.pub"
identity = "a@example.com"

[[signer]]
name = "missing-key"
key = "nope.pub"

[[signer]]
name = "not-a-key"
key = "root.json"

[[signer]]
name = "bad-root"
identity = "a@example.com"
issuer = "https://accounts.google.com"
trusted_root = "cosign.pub"

[[signer]]
name = "bad-re"
key = "cosign.pub"
"#;
    let e = errors_with(
        text,
        &[("cosign.pub", COSIGN_PUB), ("root.json", FAKE_ROOT)],
    );
    let want = [
        "policy.toml:2:1: signer \"no-issuer\": a keyless signer needs issuer or issuer_regexp (or key = \"….pub\" for a key)",
        "policy.toml:9:19: signer \"both\": give identity or identity_regexp, not both",
        "policy.toml:14:19: signer \"bad-re\": identity_regexp: invalid regexp \"(\": ",
        "policy.toml:20:12: signer \"key-and-identity\": identity is for keyless signers; a signer with a key is that key",
        "policy.toml:24:7: signer \"missing-key\": cannot read key nope.pub: No such file or directory",
        "policy.toml:28:7: signer \"not-a-key\": key root.json: unreadable public key: ",
        "policy.toml:34:16: signer \"bad-root\": unusable trusted root cosign.pub: ",
        "policy.toml:37:8: duplicate signer name \"bad-re\": first used at line 13, column 8",
    ];
    assert_eq!(e.len(), want.len(), "{e:#?}");
    for (got, want) in e.iter().zip(want) {
        assert!(got.starts_with(want), "want {want:?}\n got {got:?}");
    }
}

#[test]
fn signature_proof_needs_declared_signers_a_file_template_and_a_go_mod_proof() {
    let head = "[[signer]]\nname = \"s\"\nkey = \"cosign.pub\"\n\n[[allow]]\nname = \"x\"\nmodules = \"a.com\"\n";
    let files = &[("cosign.pub", COSIGN_PUB)];
    let ok = format!(
        "{head}proof = [\"sumdb\", \"signature\"]\nsigners = \"s\"\nsignatures = \"file:///srv/sigs/{{module}}/@v/{{version}}{{file}}.sig\"\n"
    );
    let p = parse_with(&ok, files).unwrap();
    let d = p.decide("a.com", Some("v1.0.0"));
    assert_eq!(
        d.proofs,
        [
            RequiredProof::Sumdb(sumdb::Requirement),
            RequiredProof::Signature(crate::policy::SignatureRequirement {
                signers: vec!["s".into()],
                location: "file:///srv/sigs/{module}/@v/{version}{file}.sig".into(),
                signed: crate::policy::SignedMode::Zip,
            })
        ]
    );
    assert!(p.signer("s").is_some() && p.signer("t").is_none());
    // Alone, the signature proves the go.mod too (the signed zip's go.mod, or the go.sum
    // lines'); `signed` is a mode, and only with proof "signature".
    for signed in ["", "signed = \"zip\"\n", "signed = \"gosum\"\n"] {
        let alone = format!(
            "{head}proof = [\"signature\"]\n{signed}signers = \"s\"\nsignatures = \"file:///s/{{module}}/{{version}}\"\n"
        );
        let p = parse_with(&alone, files).unwrap_or_else(|e| panic!("{alone}: {e}"));
        let d = p.decide("a.com", Some("v1.0.0"));
        let want = if signed.contains("gosum") {
            crate::policy::SignedMode::Gosum
        } else {
            crate::policy::SignedMode::Zip
        };
        assert!(
            matches!(&d.proofs[..], [RequiredProof::Signature(r)] if r.signed == want),
            "{:?}",
            d.proofs
        );
        // `policy check` shows the mode.
        let shown = format!(
            "proof signature (signed {}; signers s; at file:///s/",
            want.as_str()
        );
        assert!(p.describe().contains(&shown), "{}", p.describe());
    }
    let cases = [
        (
            "proof = [\"sumdb\", \"signature\"]\nsigned = \"h1\"\nsigners = \"s\"\nsignatures = \"file:///s/{module}/{version}\"\n",
            "signed = \"h1\" is not a mode: \"zip\" (the zip's bytes) or \"gosum\" (the version's go.sum lines)",
        ),
        (
            "proof = [\"sumdb\"]\nsigned = \"gosum\"\n",
            "signed is only used with proof \"signature\", which this rule does not require",
        ),
        (
            "proof = [\"sumdb\", \"signature\"]\nsigners = \"t\"\nsignatures = \"file:///s/{module}/{version}\"\n",
            "no [[signer]] is called \"t\"",
        ),
        (
            "proof = [\"sumdb\", \"signature\"]\nsigners = \"s\"\nsignatures = \"https://sigs.example/../{module}/{version}\"\n",
            ". and .. are not allowed in a signature location",
        ),
        (
            "proof = [\"sumdb\", \"signature\"]\nsigners = \"s\"\nsignatures = \"file:///s/{module}/{ver}\"\n",
            "unknown placeholder {ver}",
        ),
        (
            "proof = [\"sumdb\", \"signature\"]\nsigners = \"s\"\nsignatures = \"file:///s/{module}.sig\"\n",
            "the template must hold {version}",
        ),
        (
            "proof = [\"sumdb\", \"signature\"]\nsigners = \"s\"\nsignatures = \"file://s/{module}/{version}\"\n",
            "a file:// location needs an absolute path",
        ),
        (
            "proof = [\"sumdb\", \"signature\"]\nsigners = \"s\"\n",
            "needs signatures = ",
        ),
    ];
    for (tail, want) in cases {
        let e = errors_with(&format!("{head}{tail}"), files);
        assert_eq!(e.len(), 1, "{tail}: {e:#?}");
        assert!(e[0].contains(want), "{tail}: want {want:?} in {e:#?}");
    }
}

#[test]
fn toolchain_may_require_a_signature_on_top_of_the_checksum_database() {
    let head = "[[signer]]\nname = \"s\"\nkey = \"cosign.pub\"\n\n[toolchain]\n";
    let files = &[("cosign.pub", COSIGN_PUB)];
    let at = "signatures = \"file:///s/{module}/@v/{version}{file}.sig\"\n";
    let ok = format!("{head}proof = [\"sumdb\", \"signature\"]\nsigners = \"s\"\n{at}");
    let p = parse_with(&ok, files).unwrap();
    let d = p.decide_toolchain("go1.22.3", "linux", "amd64");
    assert!(d.allowed, "{}", d.reason);
    assert_eq!(
        d.proofs,
        [
            RequiredProof::Sumdb(sumdb::Requirement),
            RequiredProof::Signature(crate::policy::SignatureRequirement {
                signers: vec!["s".into()],
                location: "file:///s/{module}/@v/{version}{file}.sig".into(),
                signed: crate::policy::SignedMode::Zip,
            })
        ]
    );
    assert!(
        p.describe()
            .contains("signature (signed zip; signers s; at file:///s/{module}/@v/{version}{file}.sig); checksum-database proof is mandatory"),
        "{}",
        p.describe()
    );
    assert!(p.is_toolchain_signature(&["s".into()], "file:///s/{module}/@v/{version}{file}.sig"));
    // Other modules are not affected.
    assert_eq!(
        p.decide("a.com", Some("v1.0.0")).proofs,
        [RequiredProof::Sumdb(sumdb::Requirement)]
    );
    let cases = [
        (
            format!("proof = [\"signature\"]\nsigners = \"s\"\n{at}"),
            "[toolchain]: proof is [\"sumdb\"] or [\"sumdb\", \"signature\"]",
        ),
        (
            format!("signers = \"s\"\n{at}"),
            "[toolchain]: signers is only used with proof \"signature\"",
        ),
        (
            format!(
                "proof = [\"sumdb\", \"signature\"]\nsigned = \"gosum\"\nsigners = \"s\"\n{at}"
            ),
            "[toolchain]: signed = \"gosum\" is for modules",
        ),
        (
            "proof = [\"sumdb\", \"signature\"]\nsigners = \"s\"\n".to_owned(),
            "[toolchain]: proof \"signature\" needs signatures = ",
        ),
    ];
    for (tail, want) in cases {
        let e = errors_with(&format!("{head}{tail}"), files);
        assert_eq!(e.len(), 1, "{tail}: {e:#?}");
        assert!(e[0].contains(want), "{tail}: want {want:?} in {e:#?}");
    }
}

#[test]
fn users_and_groups_restrict_who_may_fetch_what_a_rule_matches() {
    let p = policy(
        "[[allow]]\nname = \"pay\"\nmodules = \"corp.example/pay\"\ngroups = [\"payments\"]\nusers = \"auditor\"\n\n\
         [[allow]]\nname = \"rest\"\nmodules = \"corp.example\"\n",
    );
    let id = |name: &str, groups: &[&str]| crate::auth::Identity {
        name: name.into(),
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
    };
    let m = "corp.example/pay/lib";
    assert_eq!(
        p.admits(m, Some("v1.0.0"), Some(&id("alice", &["payments"]))),
        Ok(())
    );
    assert_eq!(
        p.admits(m, Some("v1.0.0"), Some(&id("auditor", &[]))),
        Ok(())
    );
    assert_eq!(
        p.admits(m, Some("v1.0.0"), Some(&id("bob", &["dev"]))),
        Err("denied by policy rule \"pay\": only users \"auditor\" and groups \"payments\" may fetch corp.example/pay/lib@v1.0.0; you are \"bob\" (groups: dev)".into())
    );
    assert_eq!(
        p.admits(m, None, None),
        Err("denied by policy rule \"pay\": only users \"auditor\" and groups \"payments\" may fetch corp.example/pay/lib, and this request is not authenticated".into())
    );
    // Other rules and the defaults admit anyone.
    assert_eq!(p.admits("corp.example/web", Some("v1.0.0"), None), Ok(()));
    assert_eq!(p.admits("golang.org/x/text", None, None), Ok(()));
    assert_eq!(
        p.explain(m, Some("v1.0.0")).access.as_deref(),
        Some("users \"auditor\" and groups \"payments\"")
    );
    assert!(
        p.describe()
            .contains("; only users \"auditor\" and groups \"payments\""),
        "{}",
        p.describe()
    );

    let head = "[[allow]]\nname = \"r\"\nmodules = \"corp.example\"\n";
    for (tail, want) in [
        (
            "groups = []\n",
            "users and groups are empty, so no one could fetch what it matches",
        ),
        (
            "groups = [\"a b\"]\n",
            "groups entry \"a b\": use 1 to 64 letters",
        ),
        ("users = [\"x\", \"x\"]\n", "users lists \"x\" twice"),
    ] {
        let e = errors(&format!("{head}{tail}"));
        assert_eq!(e.len(), 1, "{tail}: {e:#?}");
        assert!(e[0].contains(want), "{tail}: want {want:?} in {e:#?}");
    }
}

/// A reload watches every pin file the policy read: those of the rules
/// that require "pinned", and those `[defaults]` names for rules to
/// inherit even when `[defaults]` itself does not require "pinned" (an
/// edit that breaks one must be noticed, since the next load refuses it).
#[test]
fn every_pin_file_read_is_watched() {
    let line = "example.com/a v1.0.0/go.mod h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n";
    let text = "[defaults]\npins = [\"d.sum\"]\n\n[[allow]]\nname = \"a\"\nmodules = \"example.com/a\"\nproof = [\"pinned\"]\npins = [\"r.sum\"]\n";
    let p = parse_with(text, &[("d.sum", line), ("r.sum", line)]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        p.pin_files(),
        [PathBuf::from("d.sum"), PathBuf::from("r.sum")]
    );
    assert!(policy("").pin_files().is_empty());
}
