//! Checksum databases: signed notes, the tiled transparency log, and the
//! client that proves lookups before anything is stored or served.
//!
//! Tile coordinates, record ids and tree sizes arrive from clients and from
//! the database itself, so arithmetic on them must be checked, and nothing
//! here may panic on input: these lints hold every submodule to that.
#![deny(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

pub(crate) mod client;

use crate::xmod::note;

pub(crate) use crate::verify::proof::sumdb::ProvenRecord;
pub(crate) use client::{SumdbClient, SumdbError};

/// The key of sum.golang.org (cmd/go `modfetch/key.go`).
pub(crate) const SUM_GOLANG_ORG_KEY: &str =
    "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8";

/// Tile height used by sum.golang.org and the go command (client.go).
pub(crate) const TILE_HEIGHT: u32 = 8;

/// One configured checksum database, from a `GOSUMDB`-style value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SumdbSpec {
    /// `name+hash+key`.
    pub vkey: String,
    /// The database name (the first field of the key).
    pub name: String,
    /// Where to reach it; `None` means through the upstream proxies
    /// (`<proxy>/sumdb/<name>/…`), then `https://<name>`.
    pub url: Option<String>,
}

impl SumdbSpec {
    /// Parses `KEY [URL]` as the go command parses `GOSUMDB` (cmd/go
    /// `modfetch/sumdb.go` `dbDial`), including the bare `sum.golang.org`
    /// and `sum.golang.google.cn` shorthands.
    pub fn parse(value: &str) -> Result<SumdbSpec, String> {
        let fields: Vec<&str> = value.split_whitespace().collect();
        let (key, mut url) = match fields.as_slice() {
            [k] => (*k, None),
            [k, u] => (*k, Some((*u).to_owned())),
            [] => return Err("empty checksum database setting".into()),
            _ => {
                return Err(format!(
                    "invalid checksum database {value:?}: too many fields (want \"KEY [URL]\")"
                ));
            }
        };
        let key = match key {
            "sum.golang.org" => SUM_GOLANG_ORG_KEY,
            "sum.golang.google.cn" => {
                url.get_or_insert_with(|| "https://sum.golang.google.cn".to_owned());
                SUM_GOLANG_ORG_KEY
            }
            k => k,
        };
        let verifier = note::Verifier::parse(key)
            .map_err(|e| format!("invalid checksum database key {key:?}: {e}"))?;
        let name = verifier.name().to_owned();
        check_name(&name)?;
        if let Some(u) = &url
            && !(u.starts_with("https://") || u.starts_with("http://"))
        {
            return Err(format!(
                "invalid checksum database URL {u:?}: must be http:// or https://"
            ));
        }
        Ok(SumdbSpec {
            vkey: key.to_owned(),
            name,
            url,
        })
    }
}

/// Checks a database name: `host[/path]`, which also keeps it a safe
/// relative path under `<cache>/sumdb/`.
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && !name.ends_with('/')
        && !name.starts_with('/')
        && !name.contains("//")
        && name.split('/').all(|e| e != "." && e != "..")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~/:".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid checksum database name {name:?}: must be host[/path]"
        ))
    }
}

#[cfg(test)]
#[allow(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_safe_relative_paths() {
        for good in ["sum.golang.org", "localhost.localdev/sumdb", "h:8080/a.b/c"] {
            assert_eq!(check_name(good), Ok(()), "{good}");
        }
        for bad in [
            "", "/x", "x/", "a//b", "..", "a/../b", "./a", "a/.", "a b", "a\\b",
        ] {
            assert_eq!(
                check_name(bad),
                Err(format!(
                    "invalid checksum database name {bad:?}: must be host[/path]"
                )),
                "{bad}"
            );
        }
    }

    #[test]
    fn parses_gosumdb_values() {
        let s = SumdbSpec::parse("sum.golang.org").unwrap();
        assert_eq!(s.vkey, SUM_GOLANG_ORG_KEY);
        assert_eq!(s.name, "sum.golang.org");
        assert_eq!(s.url, None);
        let s = SumdbSpec::parse("sum.golang.google.cn").unwrap();
        assert_eq!(s.url.as_deref(), Some("https://sum.golang.google.cn"));
        let s = SumdbSpec::parse(&format!("{SUM_GOLANG_ORG_KEY} http://127.0.0.1:9/x")).unwrap();
        assert_eq!(s.url.as_deref(), Some("http://127.0.0.1:9/x"));
        for bad in [
            "",
            "a b c",
            "sum.golang.org+00000000+AAAA",
            "sum.golang.org ftp://x",
        ] {
            assert!(SumdbSpec::parse(bad).is_err(), "{bad:?}");
        }
    }
}
