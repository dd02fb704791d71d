//! An in-memory Go checksum database (a fake sum.golang.org) for the
//! integration tests, built only on the public `goward::xmod::{note, tlog}` API.
//!
//! It serves what x/mod `sumdb/server.go` serves (`/latest`, `/lookup/…`,
//! `/tile/…`) plus the proxy's `/supported`, with tile height 8 like the real
//! one, so the real `go` command accepts it as `GOSUMDB=<vkey>` behind a
//! GOPROXY that forwards `/sumdb/<name>/…`. `TestLog` is a plain value:
//! clone it to keep an old state (rollback and fork fixtures).
#![allow(dead_code)] // Not every test binary uses every helper.

use std::collections::HashMap;

use goward::xmod::note;
use goward::xmod::tlog::{self, Hash, Tile, Tree};
use sha2::{Digest as _, Sha256};

/// Tile height served, as on sum.golang.org.
pub(crate) const TILE_HEIGHT: u32 = 8;

/// An append-only checksum database with a signing key.
#[derive(Clone)]
pub(crate) struct TestLog {
    signer: note::Signer,
    /// All stored hashes, in stored hash index order.
    hashes: Vec<Hash>,
    /// Record texts by id.
    records: Vec<Vec<u8>>,
    /// Unescaped `path@version` → record id answered by lookups.
    lookups: HashMap<String, u64>,
}

impl TestLog {
    /// An empty log named `name` (for example `sum.goward.test`), with a
    /// deterministic key: the Ed25519 seed is SHA-256(name).
    pub(crate) fn new(name: &str) -> TestLog {
        let seed: [u8; 32] = Sha256::digest(name.as_bytes()).into();
        let signer = note::Signer::from_seed(name, seed)
            .unwrap_or_else(|e| panic!("TestLog::new({name:?}): {e}"));
        TestLog::with(signer)
    }

    /// An empty log signing with the given `PRIVATE+KEY+name+hash+key`.
    pub(crate) fn with_signer(name: &str, skey: &str) -> TestLog {
        let signer = note::Signer::parse(skey)
            .unwrap_or_else(|e| panic!("TestLog::with_signer({name:?}): {e}"));
        assert_eq!(signer.name(), name, "signer key is for another name");
        TestLog::with(signer)
    }

    fn with(signer: note::Signer) -> TestLog {
        TestLog {
            signer,
            hashes: Vec::new(),
            records: Vec::new(),
            lookups: HashMap::new(),
        }
    }

    /// The log's name (the `GOSUMDB` name and the `/sumdb/<name>/` path element).
    pub(crate) fn name(&self) -> &str {
        self.signer.name()
    }

    /// The verifier key `name+hash+key`, usable as `GOSUMDB` and `goward --sumdb`.
    pub(crate) fn vkey(&self) -> String {
        self.signer.verifier_key()
    }

    /// The secret signer key (to build a second log with the same key, e.g. a fork).
    pub(crate) fn skey(&self) -> String {
        self.signer.signer_key()
    }

    /// Appends the record `"<path> <version> <zip_h1>\n<path> <version>/go.mod <mod_h1>\n"`
    /// (`zip_h1`/`mod_h1` are go.sum hashes like `h1:…=`) and makes it the
    /// lookup answer for `path@version`. Returns the record id.
    pub(crate) fn add_module(
        &mut self,
        path: &str,
        version: &str,
        zip_h1: &str,
        mod_h1: &str,
    ) -> u64 {
        assert!(
            zip_h1.starts_with("h1:") && mod_h1.starts_with("h1:"),
            "add_module wants go.sum hashes (h1:…); use add_record for anything else"
        );
        let text = format!("{path} {version} {zip_h1}\n{path} {version}/go.mod {mod_h1}\n");
        self.add_record(path, version, &text)
    }

    /// Appends an arbitrary record (valid record text: lines ending in `\n`, no
    /// blank line) and makes it the lookup answer for `path@version`, replacing
    /// any earlier answer. For attack fixtures: a record missing a line, or
    /// holding another module's lines. Returns the record id.
    pub(crate) fn add_record(&mut self, path: &str, version: &str, text: &str) -> u64 {
        if let Err(e) = tlog::format_record(0, text.as_bytes()) {
            panic!("add_record({path}@{version}): {e}: {text:?}");
        }
        let id = self.records.len() as u64;
        let new = tlog::stored_hashes(id, text.as_bytes(), &self.hashes)
            .unwrap_or_else(|e| panic!("add_record: {e}"));
        self.hashes.extend(new);
        self.records.push(text.as_bytes().to_vec());
        self.lookups.insert(format!("{path}@{version}"), id);
        id
    }

    /// Appends `count` filler records (`"filler.test/mN v1.0.0 h1:…"`) that no
    /// lookup answers, to make the tree big enough for full and parent tiles.
    pub(crate) fn add_fillers(&mut self, count: u64) {
        for _ in 0..count {
            let n = self.records.len();
            let text = format!(
                "filler.test/m{n} v1.0.0 h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
            );
            let id = n as u64;
            let new = tlog::stored_hashes(id, text.as_bytes(), &self.hashes)
                .unwrap_or_else(|e| panic!("add_fillers: {e}"));
            self.hashes.extend(new);
            self.records.push(text.into_bytes());
        }
    }

    /// The record text with this id.
    pub(crate) fn record(&self, id: u64) -> Option<&[u8]> {
        self.records
            .get(usize::try_from(id).ok()?)
            .map(Vec::as_slice)
    }

    /// The number of records.
    pub(crate) fn size(&self) -> u64 {
        self.records.len() as u64
    }

    /// The current tree head.
    pub(crate) fn tree(&self) -> Tree {
        self.tree_at(self.size())
    }

    /// The tree head at an earlier size (for rollback fixtures).
    pub(crate) fn tree_at(&self, n: u64) -> Tree {
        assert!(n <= self.size(), "tree_at({n}) beyond size {}", self.size());
        let hash = tlog::tree_hash(n, &self.hashes).unwrap_or_else(|e| panic!("tree_at: {e}"));
        Tree { n, hash }
    }

    /// The signed tree head, the body of `/latest`.
    pub(crate) fn signed_tree(&self) -> Vec<u8> {
        sign_tree(&self.tree(), &self.signer)
    }

    /// The current tree head signed by another key (a wrong-key note).
    pub(crate) fn signed_tree_by(&self, signer_skey: &str) -> Vec<u8> {
        let signer =
            note::Signer::parse(signer_skey).unwrap_or_else(|e| panic!("signed_tree_by: {e}"));
        sign_tree(&self.tree(), &signer)
    }

    /// The `/lookup/<escaped path@version>` body: `"<id>\n<text>\n<signed note>"`.
    /// `None` when the server would not answer 200.
    pub(crate) fn lookup(&self, escaped_path_at_version: &str) -> Option<Vec<u8>> {
        self.lookup_response(escaped_path_at_version).ok()
    }

    fn lookup_response(&self, mod_ver: &str) -> Result<Vec<u8>, (u16, String)> {
        // server.go modVerRE and UnescapePath/UnescapeVersion.
        if !is_lookup_syntax(mod_ver) {
            return Err((400, "invalid module@version syntax".into()));
        }
        let (esc_path, esc_vers) = mod_ver.split_once('@').unwrap_or((mod_ver, ""));
        let path = unescape(esc_path)
            .ok_or_else(|| (500, format!("invalid escaped module path {esc_path:?}")))?;
        let vers = unescape(esc_vers)
            .ok_or_else(|| (500, format!("invalid escaped version {esc_vers:?}")))?;
        let key = format!("{path}@{vers}");
        let Some(&id) = self.lookups.get(&key) else {
            return Err((404, format!("{key}: not found")));
        };
        let text = &self.records[id as usize];
        let mut body = tlog::format_record(id, text).map_err(|e| (500, e.to_string()))?;
        body.extend_from_slice(&self.signed_tree());
        Ok(body)
    }

    /// The bytes of a tile path such as `tile/8/0/000.p/5` or `tile/8/data/000`;
    /// `None` unless it is a canonical height-8 path whose hashes (or records)
    /// all exist at the current size. Old partial widths stay available.
    pub(crate) fn tile(&self, tile_path: &str) -> Option<Vec<u8>> {
        let t = Tile::parse_path(tile_path).ok()?;
        if t.h != TILE_HEIGHT {
            return None;
        }
        let start = t.n.checked_mul(1 << TILE_HEIGHT)?;
        let end = start.checked_add(u64::from(t.w))?;
        if t.l == -1 {
            if end > self.size() {
                return None;
            }
            // server.go: each record's text followed by a blank line, no ids.
            let mut out = Vec::new();
            for text in &self.records[start as usize..end as usize] {
                out.extend_from_slice(text);
                out.push(b'\n');
            }
            return Some(out);
        }
        let level_bits = u64::from(t.h) * u64::try_from(t.l).ok()?;
        let width_of_level = if level_bits >= 64 {
            0
        } else {
            self.size() >> level_bits
        };
        if end > width_of_level {
            return None;
        }
        tlog::read_tile_data(t, &self.hashes).ok()
    }

    /// Answers `rel` (the path after `/sumdb/<name>/`: `supported`, `latest`,
    /// `lookup/…`, `tile/…`) with (status, body) as x/mod `sumdb/server.go`
    /// does: 400 for a malformed lookup or tile path, 404 for an unknown module
    /// or a tile not (yet) in the tree, 404 for anything else.
    pub(crate) fn serve(&self, rel: &str) -> (u16, Vec<u8>) {
        if rel == "supported" {
            return (200, Vec::new());
        }
        if rel == "latest" {
            return (200, self.signed_tree());
        }
        if let Some(mod_ver) = rel.strip_prefix("lookup/") {
            return match self.lookup_response(mod_ver) {
                Ok(body) => (200, body),
                Err((status, msg)) => (status, format!("{msg}\n").into_bytes()),
            };
        }
        if rel.starts_with("tile/") {
            if Tile::parse_path(rel).is_err() {
                return (400, b"invalid tile syntax\n".to_vec());
            }
            return match self.tile(rel) {
                Some(body) => (200, body),
                None => (404, format!("{rel}: not found\n").into_bytes()),
            };
        }
        (404, b"404 page not found\n".to_vec())
    }
}

fn sign_tree(tree: &Tree, signer: &note::Signer) -> Vec<u8> {
    note::sign(&tlog::format_tree(tree), &[signer]).unwrap_or_else(|e| panic!("sign_tree: {e}"))
}

/// server.go `modVerRE`: `^[^@]+@v[0-9]+\.[0-9]+\.[0-9]+(-[^@]*)?(\+incompatible)?$`.
fn is_lookup_syntax(s: &str) -> bool {
    let Some((path, vers)) = s.split_once('@') else {
        return false;
    };
    let Some(mut rest) = vers.strip_prefix('v') else {
        return false;
    };
    if path.is_empty() || vers.contains('@') {
        return false;
    }
    for i in 0..3 {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return false;
        }
        rest = &rest[digits..];
        if i < 2 {
            match rest.strip_prefix('.') {
                Some(r) => rest = r,
                None => return false,
            }
        }
    }
    rest.is_empty() || rest.starts_with('-') || rest == "+incompatible"
}

/// x/mod `module.unescapeString`: `!x` → `X`; ASCII only; no bare capitals;
/// no dangling `!`. (Path and version validity checks are left out.)
fn unescape(escaped: &str) -> Option<String> {
    let mut out = String::with_capacity(escaped.len());
    let mut bang = false;
    for c in escaped.chars() {
        if !c.is_ascii() {
            return None;
        }
        if bang {
            bang = false;
            if !c.is_ascii_lowercase() {
                return None;
            }
            out.push(c.to_ascii_uppercase());
            continue;
        }
        if c == '!' {
            bang = true;
            continue;
        }
        if c.is_ascii_uppercase() {
            return None;
        }
        out.push(c);
    }
    (!bang).then_some(out)
}
