//! Proof by a checksum database: the artifact's `h1:` line is in a record
//! proven included in the database's signed tree (the proving itself is
//! [`crate::sumdb::SumdbClient::prove`], which ends in
//! [`ProvenRecord::from_leaf`]).

use serde::{Deserialize, Serialize};

use super::{Artifact, EvidenceObjects, Rechecked, Recorded, Satisfying, TrustAnchors, vouches};
use crate::artifact::{ArtifactKind, H1};
use crate::verify::VerifyError;
use crate::xmod::{note, tlog};

/// What the cache records of a checksum-database proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// Database name.
    pub db: String,
    /// Record number.
    pub record: u64,
    /// The record text.
    pub text: String,
    /// Size of the tree the record was proven in.
    pub tree_size: u64,
    /// The signed tree note, verbatim.
    pub note: String,
}

/// The `h1:` hashes of a checksum-database record text for `path@version`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct RecordH1s {
    /// `path version h1:…` lines.
    pub zip: Vec<H1>,
    /// `path version/go.mod h1:…` lines.
    pub go_mod: Vec<H1>,
}

/// Reads the hash lines of a record text. Every line must be about exactly
/// `path@version` (its zip or its go.mod); otherwise the offending line is
/// returned. Lines with other hash algorithms are skipped, as go does.
/// Used when proving and when re-checking a stored proof, so both read a
/// record the same way.
pub(crate) fn record_h1s<'t>(
    path: &str,
    version: &str,
    text: &'t str,
) -> Result<RecordH1s, &'t str> {
    let mod_version = format!("{version}/go.mod");
    let mut out = RecordH1s::default();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [p, v, h] = f.as_slice() else {
            return Err(line);
        };
        if *p != path {
            return Err(line);
        }
        let dst = if *v == version {
            &mut out.zip
        } else if *v == mod_version {
            &mut out.go_mod
        } else {
            return Err(line);
        };
        if h.starts_with("h1:") {
            dst.push(H1::parse(h).map_err(|_| line)?);
        }
    }
    Ok(out)
}

/// Proof token: a checksum-database record proven included in a signed tree
/// head that is consistent with every head goward has trusted before.
///
/// Only [`ProvenRecord::from_leaf`] constructs it, after checking that the
/// record is the leaf the tiles authenticated against the tree; the hash
/// lines come from the proven record text alone, never from the note that
/// follows it (CVE-2026-56864). The tree's consistency with every head
/// trusted before is the client's part ([`crate::sumdb::SumdbClient`]).
#[derive(Clone, Debug)]
pub struct ProvenRecord {
    db: String,
    path: String,
    version: String,
    id: u64,
    text: String,
    tree: tlog::Tree,
    note: Vec<u8>,
    zip_h1s: Vec<H1>,
    mod_h1s: Vec<H1>,
}

impl ProvenRecord {
    /// Proves record `id` of database `db`, with text `text`, included in
    /// `tree` (signed by `note`): `leaf` is leaf `id` as read from tiles
    /// authenticated against `tree`. Checks that the leaf is this record's
    /// hash and that every line of the text is about exactly
    /// `path@version` (x/mod `Client.Lookup` steps 5 and 6).
    pub fn from_leaf(
        db: &str,
        (path, version): (&str, &str),
        (id, text): (u64, String),
        (tree, note): (tlog::Tree, Vec<u8>),
        leaf: Option<&tlog::Hash>,
    ) -> Result<ProvenRecord, NotProven> {
        if id >= tree.n {
            return Err(NotProven::OutOfRange);
        }
        if leaf != Some(&tlog::record_hash(text.as_bytes())) {
            return Err(NotProven::NotTheLeaf);
        }
        let lines = record_h1s(path, version, &text)
            .map_err(|line| NotProven::WrongLine(line.to_owned()))?;
        Ok(ProvenRecord {
            db: db.to_owned(),
            path: path.to_owned(),
            version: version.to_owned(),
            id,
            text,
            tree,
            note,
            zip_h1s: lines.zip,
            mod_h1s: lines.go_mod,
        })
    }

    /// The database name.
    pub fn db(&self) -> &str {
        &self.db
    }
    /// Module path the record is for.
    pub fn path(&self) -> &str {
        &self.path
    }
    /// Version the record is for.
    pub fn version(&self) -> &str {
        &self.version
    }
    /// Record number in the log.
    pub fn id(&self) -> u64 {
        self.id
    }
    /// The proven record text (go.sum lines).
    pub fn text(&self) -> &str {
        &self.text
    }
    /// The tree the record was proven in.
    pub fn tree(&self) -> tlog::Tree {
        self.tree
    }
    /// The signed note of that tree.
    pub fn note(&self) -> &[u8] {
        &self.note
    }
    /// `h1:` lines for the zip.
    pub fn zip_h1s(&self) -> &[H1] {
        &self.zip_h1s
    }
    /// `h1:` lines for the go.mod.
    pub fn mod_h1s(&self) -> &[H1] {
        &self.mod_h1s
    }
}

/// Why [`ProvenRecord::from_leaf`] refused a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotProven {
    /// The record id is not below the tree size.
    OutOfRange,
    /// Leaf `id` of the tree is not the record's hash.
    NotTheLeaf,
    /// A line of the record text is not about exactly the module version.
    WrongLine(String),
}

/// A `sumdb` requirement: the first configured checksum database proves
/// the artifact. It has no settings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Requirement;

/// As `policy explain` states it.
impl std::fmt::Display for Requirement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("checksum database (sumdb)")
    }
}

/// Whether a stored record satisfies a `sumdb` requirement: it holds
/// evidence from `primary`, the database that proves modules (the first
/// configured; `""` when none is). Never for a private path: it cannot be
/// proven in a public checksum database. `Err` says what is missing.
fn satisfied_by(recorded: &Recorded<'_>, private: bool, primary: &str) -> Result<(), String> {
    if private {
        return Err("a private path cannot be proven in a public checksum database".into());
    }
    if recorded
        .proofs
        .iter()
        .any(|p| matches!(p, super::Evidence::Sumdb(e) if e.db == primary))
    {
        Ok(())
    } else {
        Err(format!(
            "no proof from checksum database {primary} on record"
        ))
    }
}

/// Whether a fetch may ask a public checksum database about a path
/// (`private`: a `[[private]]` rule routes it): a private path is never
/// looked up. The policy loader rejects rules that would ask; this is the
/// guard at the point of asking.
pub(crate) fn may_look_up(private: bool) -> Result<(), &'static str> {
    if private {
        Err("refusing a public checksum-database lookup for a private path")
    } else {
        Ok(())
    }
}

pub(super) fn authority(db: &str, record: u64) -> String {
    format!("checksum database {db} record {record}")
}

/// The `sumdb` kind ([`super::Kind`]).
pub struct Sumdb;

impl super::Kind for Sumdb {
    const PROVES_GO_MOD: bool = true;
    type Token = ProvenRecord;
    type Evidence = Evidence;
    type Requirement = Requirement;

    fn summary(_req: &Requirement) -> String {
        "sumdb".to_owned()
    }

    fn satisfied_by(
        _req: &Requirement,
        recorded: &Recorded<'_>,
        cx: &Satisfying<'_>,
    ) -> Result<(), String> {
        satisfied_by(recorded, cx.private, cx.primary_sumdb)
    }

    fn authority(r: &ProvenRecord) -> String {
        authority(r.db(), r.id())
    }

    /// The fetch-time check: the proven record's lines vouch for `a`.
    fn check(r: &ProvenRecord, a: &Artifact<'_>) -> Result<(), VerifyError> {
        let lines = match a.kind {
            ArtifactKind::Zip => r.zip_h1s(),
            ArtifactKind::Mod => r.mod_h1s(),
        };
        vouches(
            &|| authority(r.db(), r.id()),
            (r.path(), r.version()),
            lines,
            a,
        )
    }

    fn evidence(r: &ProvenRecord) -> Evidence {
        Evidence {
            db: r.db().to_owned(),
            record: r.id(),
            text: r.text().to_owned(),
            tree_size: r.tree().n,
            note: String::from_utf8_lossy(r.note()).into_owned(),
        }
    }

    fn reference(e: &Evidence) -> String {
        format!("{} in tree {}", authority(&e.db, e.record), e.tree_size)
    }

    fn db(e: &Evidence) -> Option<&str> {
        Some(&e.db)
    }

    fn recheck(
        e: &Evidence,
        a: &Artifact<'_>,
        anchors: &TrustAnchors<'_>,
        _objects: &EvidenceObjects,
    ) -> Result<Rechecked, VerifyError> {
        e.recheck(a, anchors)
    }
}

impl Evidence {
    /// The offline re-check: the record text is about exactly `a`'s module
    /// version and vouches for it by the fetch-time rule; the note verifies
    /// with the database's configured key and signs a tree that holds the
    /// record. Inclusion itself was proven at fetch time and is not redone.
    fn recheck(
        &self,
        a: &Artifact<'_>,
        anchors: &TrustAnchors<'_>,
    ) -> Result<Rechecked, VerifyError> {
        let who = || authority(&self.db, self.record);
        let bad = |msg: String| VerifyError::BadEvidence {
            authority: who(),
            msg,
        };
        let lines = record_h1s(a.module, a.version, &self.text).map_err(|line| {
            bad(format!(
                "line {line:?} is not about {}@{}",
                a.module, a.version
            ))
        })?;
        let lines = match a.kind {
            ArtifactKind::Zip => &lines.zip,
            ArtifactKind::Mod => &lines.go_mod,
        };
        vouches(&who, (a.module, a.version), lines, a)?;
        let Some(key) = anchors.sumdb_keys.iter().find(|k| k.name() == self.db) else {
            return Ok(Rechecked::Unanchored(format!(
                "proof by {}, which is not configured; its note was not checked",
                self.db
            )));
        };
        let n = note::open(self.note.as_bytes(), key)
            .map_err(|e| bad(format!("the signed tree note does not verify: {e}")))?;
        let tree = tlog::parse_tree(n.text.as_bytes())
            .map_err(|e| bad(format!("the note is not a tree head: {e}")))?;
        if tree.n != self.tree_size {
            return Err(bad(format!(
                "the record says tree size {} but its note signs size {}",
                self.tree_size, tree.n
            )));
        }
        if self.record >= tree.n {
            return Err(bad(format!(
                "the record number lies outside its tree of size {}",
                tree.n
            )));
        }
        Ok(Rechecked::Verified)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::proof::Evidence as Recorded_;

    fn evidence(db: &str) -> Recorded_ {
        Recorded_::Sumdb(Evidence {
            db: db.into(),
            record: 7,
            text: String::new(),
            tree_size: 8,
            note: String::new(),
        })
    }

    fn recorded(proofs: &[Recorded_]) -> Recorded<'_> {
        Recorded {
            kind: ArtifactKind::Zip,
            module: "example.com/m",
            version: "v1.0.0",
            h1: "h1:x",
            proofs,
        }
    }

    #[test]
    fn a_record_from_the_primary_database_satisfies_sumdb() {
        let primary = [evidence("sum.golang.org")];
        assert_eq!(
            satisfied_by(&recorded(&primary), false, "sum.golang.org"),
            Ok(())
        );
        // Another database's record, or none: refused, naming the database.
        let other = [evidence("sum.example.com")];
        for proofs in [&other[..], &[]] {
            assert_eq!(
                satisfied_by(&recorded(proofs), false, "sum.golang.org"),
                Err("no proof from checksum database sum.golang.org on record".into())
            );
        }
        // A private path never, whatever is on record.
        assert_eq!(
            satisfied_by(&recorded(&primary), true, "sum.golang.org"),
            Err("a private path cannot be proven in a public checksum database".into())
        );
    }

    #[test]
    fn a_private_path_is_never_looked_up() {
        assert_eq!(may_look_up(false), Ok(()));
        assert_eq!(
            may_look_up(true),
            Err("refusing a public checksum-database lookup for a private path")
        );
    }
}
