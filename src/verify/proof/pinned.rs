//! Proof by pin: the rule's go.sum-format pin files ([`pins`], parsed when
//! the policy loads, held by the kind's [`Requirement`]) hold the
//! artifact's `h1:`; the policy looks it up under the rule that decides the
//! artifact (`Policy::pinned_h1`).

pub(crate) mod pins;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Artifact, EvidenceObjects, Rechecked, Recorded, Satisfying, TrustAnchors, vouches};
use crate::artifact::{ArtifactKind, H1};
use crate::verify::VerifyError;

/// A hash pinned by the policy for one artifact. Built only from
/// `Policy::pinned_h1`; fields are private to this module.
#[derive(Clone, Debug)]
pub struct PinnedHash {
    path: String,
    version: String,
    kind: ArtifactKind,
    h1: [H1; 1],
    origin: String,
}

impl PinnedHash {
    /// The pin `anchors` hold for this artifact (the policy in force's,
    /// under the rule that decides it); `None` when it pins nothing.
    pub fn from_anchors(
        anchors: &TrustAnchors<'_>,
        path: &str,
        version: &str,
        kind: ArtifactKind,
    ) -> Option<PinnedHash> {
        Some(PinnedHash {
            path: path.to_owned(),
            version: version.to_owned(),
            kind,
            h1: [anchors.pin?.clone()],
            origin: anchors.policy_origin.to_owned(),
        })
    }

    /// The pinned hash.
    pub fn h1(&self) -> &H1 {
        &self.h1[0]
    }

    /// The policy that pinned it.
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

/// What the cache records of a pin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// The pinned `h1:`.
    pub h1: String,
    /// The policy that pinned it.
    pub policy: String,
}

/// A `pinned` requirement: the artifact's `h1:` is pinned in the rule's
/// go.sum-format files (the policy looks the pin up for a record,
/// [`Satisfying::pin`]).
#[derive(Clone, Debug, Default)]
pub struct Requirement {
    /// The rule's pin files, parsed (one set, possibly several files).
    pub(crate) pins: Arc<pins::PinSet>,
}

impl Requirement {
    /// A requirement of the files named, holding no pins (tests compare
    /// decisions by the files a rule names).
    #[cfg(test)]
    pub(crate) fn of_files(files: &[&str]) -> Requirement {
        let mut set = pins::PinSet::default();
        set.files = files.iter().map(|f| (*f).to_owned()).collect();
        Requirement {
            pins: Arc::new(set),
        }
    }
}

/// Requirements are the same when they name the same pin files: the
/// files' contents are one load's, and a reload builds a new policy.
impl PartialEq for Requirement {
    fn eq(&self, other: &Requirement) -> bool {
        self.pins.files == other.pins.files
    }
}

impl Eq for Requirement {}

/// As `policy explain` states it.
impl std::fmt::Display for Requirement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pinned hashes ({})", self.pins.files.join(", "))
    }
}

/// The fetch-time proof of a `pinned` requirement: the pin `anchors` hold
/// for this artifact. `Err` says it is not pinned (the fetch is denied).
pub(crate) fn prove(
    anchors: &TrustAnchors<'_>,
    module: &str,
    version: &str,
    kind: ArtifactKind,
) -> Result<PinnedHash, String> {
    PinnedHash::from_anchors(anchors, module, version, kind)
        .ok_or_else(|| format!("the {} of {module}@{version} is not pinned", kind.as_str()))
}

/// Whether a stored record satisfies a `pinned` requirement: its `h1:` is
/// the one the policy in force pins now (`pin`), whatever was pinned when
/// it was stored. `Err` says what differs.
fn satisfied_by(recorded: &Recorded<'_>, pin: Option<&H1>) -> Result<(), String> {
    match pin {
        Some(h) if h.as_str() == recorded.h1 => Ok(()),
        Some(h) => Err(format!(
            "the cached {} has {}, the policy pins {h}",
            recorded.kind.as_str(),
            recorded.h1
        )),
        None => Err(format!("the {} is not pinned", recorded.kind.as_str())),
    }
}

pub(super) fn authority(origin: &str) -> String {
    format!("pinned hash of policy {origin}")
}

/// The `pinned` kind ([`super::Kind`]).
pub struct Pinned;

impl super::Kind for Pinned {
    const PROVES_GO_MOD: bool = true;
    type Token = PinnedHash;
    type Evidence = Evidence;
    type Requirement = Requirement;

    fn summary(req: &Requirement) -> String {
        let n = req.pins.len();
        format!(
            "pinned ({}: {n} version{})",
            req.pins.files_text(),
            if n == 1 { "" } else { "s" }
        )
    }

    fn satisfied_by(
        _req: &Requirement,
        recorded: &Recorded<'_>,
        cx: &Satisfying<'_>,
    ) -> Result<(), String> {
        satisfied_by(recorded, cx.pin)
    }

    fn authority(p: &PinnedHash) -> String {
        authority(&p.origin)
    }

    /// The fetch-time check: the pin is for `a` and equals its `h1:`.
    fn check(p: &PinnedHash, a: &Artifact<'_>) -> Result<(), VerifyError> {
        let lines: &[H1] = if p.kind == a.kind { &p.h1 } else { &[] };
        vouches(&|| authority(&p.origin), (&p.path, &p.version), lines, a)
    }

    fn evidence(p: &PinnedHash) -> Evidence {
        Evidence {
            h1: p.h1().as_str().to_owned(),
            policy: p.origin().to_owned(),
        }
    }

    fn reference(e: &Evidence) -> String {
        authority(&e.policy)
    }

    /// The offline re-check: the recorded pin equals `a`'s `h1:` by the
    /// fetch-time rule, and the policy in force still pins that hash. A
    /// policy that no longer pins the artifact leaves the evidence
    /// unanchored; one that pins another hash contradicts it.
    fn recheck(
        e: &Evidence,
        a: &Artifact<'_>,
        anchors: &TrustAnchors<'_>,
        _objects: &EvidenceObjects,
    ) -> Result<Rechecked, VerifyError> {
        let who = || authority(&e.policy);
        let pinned = H1::parse(&e.h1).map_err(|err| VerifyError::BadEvidence {
            authority: who(),
            msg: format!("the recorded pin {:?} is not an h1: hash: {err}", e.h1),
        })?;
        vouches(&who, (a.module, a.version), &[pinned], a)?;
        match anchors.pin {
            Some(now) if now == a.h1 => Ok(Rechecked::Verified),
            Some(now) => Err(VerifyError::BadEvidence {
                authority: who(),
                msg: format!(
                    "the policy in force ({}) now pins {now} for the {}",
                    anchors.policy_origin,
                    a.kind.as_str()
                ),
            }),
            None => Ok(Rechecked::Unanchored(format!(
                "pinned by {}, but the policy in force ({}) pins nothing for it",
                e.policy, anchors.policy_origin
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmod::dirhash::hash_go_mod;

    fn anchors(pin: Option<&H1>) -> TrustAnchors<'_> {
        TrustAnchors {
            sumdb_keys: &[],
            policy_origin: "corp.toml",
            pin,
            signers: &[],
        }
    }

    #[test]
    fn only_the_hash_pinned_now_satisfies_pinned() {
        let (pinned, other) = (hash_go_mod(b"a"), hash_go_mod(b"b"));
        let recorded = Recorded {
            kind: ArtifactKind::Mod,
            module: "example.com/m",
            version: "v1.0.0",
            h1: pinned.as_str(),
            proofs: &[],
        };
        assert_eq!(satisfied_by(&recorded, Some(&pinned)), Ok(()));
        assert_eq!(
            satisfied_by(&recorded, Some(&other)),
            Err(format!(
                "the cached go.mod has {pinned}, the policy pins {other}"
            ))
        );
        assert_eq!(
            satisfied_by(&recorded, None),
            Err("the go.mod is not pinned".into())
        );
        let zip = Recorded {
            kind: ArtifactKind::Zip,
            ..recorded
        };
        assert_eq!(
            satisfied_by(&zip, None),
            Err("the zip is not pinned".into())
        );
    }

    #[test]
    fn a_fetch_needs_a_pin() {
        let h = hash_go_mod(b"a");
        let p = prove(
            &anchors(Some(&h)),
            "example.com/m",
            "v1.0.0",
            ArtifactKind::Zip,
        )
        .unwrap();
        assert_eq!((p.h1(), p.origin()), (&h, "corp.toml"));
        assert_eq!(
            prove(&anchors(None), "example.com/m", "v1.0.0", ArtifactKind::Mod).unwrap_err(),
            "the go.mod of example.com/m@v1.0.0 is not pinned"
        );
    }
}
