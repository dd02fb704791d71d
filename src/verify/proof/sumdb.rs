//! Proof by a checksum database: the artifact's `h1:` line is in a record
//! proven included in the database's signed tree (the proving itself is
//! [`crate::sumdb::SumdbClient::prove`]).

use serde::{Deserialize, Serialize};

use super::{Artifact, Rechecked, TrustAnchors, vouches};
use crate::sumdb::{ProvenRecord, note, record_h1s, tlog};
use crate::verify::{ArtifactKind, VerifyError};

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

pub(super) fn authority(db: &str, record: u64) -> String {
    format!("checksum database {db} record {record}")
}

/// The fetch-time check: the proven record's lines vouch for `a`.
pub(super) fn check(r: &ProvenRecord, a: &Artifact<'_>) -> Result<(), VerifyError> {
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

impl Evidence {
    pub(super) fn from_proven(r: &ProvenRecord) -> Evidence {
        Evidence {
            db: r.db().to_owned(),
            record: r.id(),
            text: r.text().to_owned(),
            tree_size: r.tree().n,
            note: String::from_utf8_lossy(r.note()).into_owned(),
        }
    }

    /// The offline re-check: the record text is about exactly `a`'s module
    /// version and vouches for it by the fetch-time rule; the note verifies
    /// with the database's configured key and signs a tree that holds the
    /// record. Inclusion itself was proven at fetch time and is not redone.
    pub(super) fn recheck(
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
