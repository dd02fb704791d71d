//! Parsing request paths into typed requests.
//!
//! Nothing downstream ever sees a raw path: module paths and versions are
//! case-decoded and validated here (x/mod `module.UnescapePath`,
//! `UnescapeVersion`, `CheckPath`), before any cache or upstream access, and
//! every key built later comes from these validated values. The go command
//! percent-escapes each path (cmd/go proxy.go `pathEscape`: `!` goes out as
//! `%21`), so escapes are decoded first; an escape that decodes to `/`, `\`,
//! `%`, a control or non-ASCII byte is refused, and `%2e%2e` decodes to `..`,
//! which the module-path rules then reject.
//!
//! Paths are hostile input, so parsing must not panic or overflow on them.
#![deny(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use crate::artifact::{ModulePath, ModuleVersion, NameError, check_version_len};
use crate::xmod::module;
use crate::xmod::tlog::{Tile, TlogError};

/// Longest request path accepted (module paths are far shorter in practice).
pub(crate) const MAX_PATH_LEN: usize = 2048;

/// A checksum-database proxy request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SumdbOp {
    /// `/supported`
    Supported,
    /// `/latest`
    Latest,
    /// `/lookup/<path>@<version>`
    Lookup(ModulePath, String),
    /// `/tile/…`
    Tile(Tile),
}

/// What a client asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Request {
    /// `<module>/@v/list`
    List(ModulePath),
    /// `<module>/@latest`
    Latest(ModulePath),
    /// `<module>/@v/<canonical>.info`
    Info(ModuleVersion),
    /// `<module>/@v/<query>.info` for a non-canonical query (branch, hash…):
    /// passed through, never cached.
    InfoQuery(ModulePath, String),
    /// `<module>/@v/<version>.mod`
    Mod(ModuleVersion),
    /// `<module>/@v/<version>.zip`
    Zip(ModuleVersion),
    /// `/sumdb/<name>/…`, with the index of the configured database.
    Sumdb(usize, SumdbOp),
}

impl Request {
    /// The module (and version, when the request names one) it is about,
    /// for access rules; `None` for checksum-database requests not about one
    /// module (`supported`, `latest`, tiles).
    pub(crate) fn subject(&self) -> Option<(&str, Option<&str>)> {
        match self {
            Request::List(m) | Request::Latest(m) | Request::InfoQuery(m, _) => {
                Some((m.as_str(), None))
            }
            Request::Info(mv) | Request::Mod(mv) | Request::Zip(mv) => {
                Some((mv.module.as_str(), Some(mv.version())))
            }
            Request::Sumdb(_, SumdbOp::Lookup(m, v)) => Some((m.as_str(), Some(v.as_str()))),
            Request::Sumdb(..) => None,
        }
    }

    /// Endpoint name for metrics.
    pub(crate) fn endpoint(&self) -> &'static str {
        match self {
            Request::List(_) => "list",
            Request::Latest(_) => "latest",
            Request::Info(_) | Request::InfoQuery(..) => "info",
            Request::Mod(_) => "mod",
            Request::Zip(_) => "zip",
            Request::Sumdb(_, SumdbOp::Supported) => "sumdb_supported",
            Request::Sumdb(_, SumdbOp::Latest) => "sumdb_latest",
            Request::Sumdb(_, SumdbOp::Lookup(..)) => "sumdb_lookup",
            Request::Sumdb(_, SumdbOp::Tile(_)) => "sumdb_tile",
        }
    }
}

/// Why a request path was refused (400), or that it names nothing (404).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum RequestError {
    /// Over [`MAX_PATH_LEN`].
    #[error("request path too long ({0} bytes; limit is {MAX_PATH_LEN})")]
    TooLong(usize),
    /// A module path or version that is not a valid artifact name (an
    /// over-long element, a bad path or version, a non-canonical version):
    /// the one definition lives with the names in [`crate::artifact`].
    #[error(transparent)]
    Name(#[from] NameError),
    /// Percent-escapes, control characters, backslashes and the like.
    #[error("invalid character {0:?} in request path")]
    BadChar(char),
    /// A percent-escape that is malformed or decodes to a forbidden character.
    #[error("invalid percent-escape {0:?} in request path")]
    BadEscape(String),
    /// A malformed checksum-database path.
    #[error("invalid checksum database request: {0}")]
    BadSumdb(String),
    /// Not a GOPROXY or checksum-database endpoint.
    #[error("not found: {0} is not a module proxy endpoint")]
    UnknownEndpoint(String),
    /// `/sumdb/<name>/` for a database goward does not serve (404 so the go
    /// command falls through to the next proxy, as cmd/go expects).
    #[error("not found: checksum database {0} is not served here")]
    UnknownSumdb(String),
}

impl RequestError {
    /// Whether this is "no such thing" (404) rather than a malformed request (400).
    pub(crate) fn is_not_found(&self) -> bool {
        matches!(
            self,
            RequestError::UnknownEndpoint(_) | RequestError::UnknownSumdb(_)
        )
    }
}

/// Parses the path of a GET request. `sumdbs` are the configured database
/// names, in order.
pub(crate) fn parse(raw: &str, sumdbs: &[String]) -> Result<Request, RequestError> {
    if raw.len() > MAX_PATH_LEN {
        return Err(RequestError::TooLong(raw.len()));
    }
    let decoded = percent_decode(raw)?;
    let raw = decoded.as_str();
    if let Some(c) = raw
        .chars()
        .find(|&c| c == '\\' || c.is_control() || !c.is_ascii())
    {
        return Err(RequestError::BadChar(c));
    }
    let path = raw
        .strip_prefix('/')
        .ok_or_else(|| RequestError::UnknownEndpoint(raw.to_owned()))?;
    if let Some(rest) = path.strip_prefix("sumdb/") {
        return parse_sumdb(rest, sumdbs);
    }
    if let Some(m) = path.strip_suffix("/@latest") {
        return Ok(Request::Latest(decode_module(m)?));
    }
    let Some((m, file)) = path.rsplit_once("/@v/") else {
        return Err(RequestError::UnknownEndpoint(raw.to_owned()));
    };
    let module = decode_module(m)?;
    if file == "list" {
        return Ok(Request::List(module));
    }
    let Some((ev, ext)) = file.rsplit_once('.') else {
        return Err(RequestError::UnknownEndpoint(raw.to_owned()));
    };
    if !matches!(ext, "info" | "mod" | "zip") {
        return Err(RequestError::UnknownEndpoint(raw.to_owned()));
    }
    let version = module::unescape_version(ev).map_err(|e| NameError::BadVersion(e.to_string()))?;
    if ext == "info" && module::canonical_version(&version).as_deref() != Some(version.as_str()) {
        check_version_len(ev)?;
        return Ok(Request::InfoQuery(module, version));
    }
    let mv = ModuleVersion::new(module, &version)?;
    Ok(match ext {
        "info" => Request::Info(mv),
        "mod" => Request::Mod(mv),
        _ => Request::Zip(mv),
    })
}

/// Decodes `%XX` escapes. Only characters that may appear in an escaped
/// module path or version are accepted from an escape.
fn percent_decode(raw: &str) -> Result<String, RequestError> {
    if !raw.contains('%') {
        return Ok(raw.to_owned());
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some((before, after)) = rest.split_once('%') {
        out.push_str(before);
        let hex = after
            .get(..2)
            .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .ok_or_else(|| {
                let shown: String = after.chars().take(2).collect();
                RequestError::BadEscape(format!("%{shown}"))
            })?;
        let c = char::from(hex);
        if !(c.is_ascii_alphanumeric() || "!-._~+@".contains(c)) {
            return Err(RequestError::BadEscape(format!("%{hex:02X}")));
        }
        out.push(c);
        rest = after.get(2..).unwrap_or_default();
    }
    out.push_str(rest);
    Ok(out)
}

fn decode_module(escaped: &str) -> Result<ModulePath, RequestError> {
    let path = module::unescape_path(escaped).map_err(|e| NameError::BadModule(e.to_string()))?;
    Ok(ModulePath::new(&path)?)
}

fn parse_sumdb(rest: &str, sumdbs: &[String]) -> Result<Request, RequestError> {
    // Names may contain '/', so match configured names as prefixes.
    let Some((db, op)) = sumdbs.iter().enumerate().find_map(|(i, name)| {
        rest.strip_prefix(name.as_str())
            .and_then(|r| r.strip_prefix('/'))
            .map(|op| (i, op))
    }) else {
        let name = rest.split('/').next().unwrap_or_default();
        return Err(RequestError::UnknownSumdb(name.to_owned()));
    };
    let op = match op {
        "supported" => SumdbOp::Supported,
        "latest" => SumdbOp::Latest,
        _ if op.starts_with("lookup/") => {
            let key = &op["lookup/".len()..];
            // x/mod sumdb/server.go: ^[^@]+@v[0-9]+\.[0-9]+\.[0-9]+(-[^@]*)?(\+incompatible)?$
            let (ep, ev) = key
                .split_once('@')
                .filter(|(p, v)| !p.is_empty() && !v.contains('@'))
                .ok_or_else(|| RequestError::BadSumdb(format!("invalid lookup {key:?}")))?;
            let module = decode_module(ep)?;
            let version =
                module::unescape_version(ev).map_err(|e| NameError::BadVersion(e.to_string()))?;
            let mv = ModuleVersion::new(module, &version)?;
            SumdbOp::Lookup(mv.module, version)
        }
        _ if op.starts_with("tile/") => {
            SumdbOp::Tile(Tile::parse_path(op).map_err(|e| match e {
                TlogError::MalformedTilePath(_) => {
                    RequestError::BadSumdb(format!("invalid tile syntax: {e}"))
                }
                e => RequestError::BadSumdb(e.to_string()),
            })?)
        }
        _ => return Err(RequestError::UnknownEndpoint(format!("/sumdb/{rest}"))),
    };
    Ok(Request::Sumdb(db, op))
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

    fn p(s: &str) -> Result<Request, RequestError> {
        parse(
            s,
            &["sum.golang.org".into(), "localhost.localdev/sumdb".into()],
        )
    }

    fn mv(m: &str, v: &str) -> ModuleVersion {
        ModuleVersion::new(ModulePath::new(m).unwrap(), v).unwrap()
    }

    #[test]
    fn parses_every_endpoint() {
        // What the go command sends for example.com/Upper@v1.0.0-RC.1 (pathEscape).
        assert_eq!(
            p("/example.com/%21upper/@v/v1.0.0-%21r%21c.1.zip"),
            Ok(Request::Zip(mv("example.com/Upper", "v1.0.0-RC.1")))
        );
        let azure = ModulePath::new("github.com/Azure/azure-sdk-for-go").unwrap();
        assert_eq!(azure.escaped(), "github.com/!azure/azure-sdk-for-go");
        assert_eq!(
            p("/github.com/!azure/azure-sdk-for-go/@v/list"),
            Ok(Request::List(azure.clone()))
        );
        assert_eq!(
            p("/github.com/!azure/azure-sdk-for-go/@latest"),
            Ok(Request::Latest(azure))
        );
        assert_eq!(
            p("/rsc.io/quote/@v/v1.5.2.info"),
            Ok(Request::Info(mv("rsc.io/quote", "v1.5.2")))
        );
        assert_eq!(
            p("/rsc.io/quote/@v/v1.5.2.mod"),
            Ok(Request::Mod(mv("rsc.io/quote", "v1.5.2")))
        );
        assert_eq!(
            p("/rsc.io/quote/@v/v1.5.2.zip"),
            Ok(Request::Zip(mv("rsc.io/quote", "v1.5.2")))
        );
        assert_eq!(
            p("/rsc.io/quote/@v/master.info"),
            Ok(Request::InfoQuery(
                ModulePath::new("rsc.io/quote").unwrap(),
                "master".into()
            ))
        );
        assert_eq!(
            p("/example.com/m/@v/v2.0.0+incompatible.zip"),
            Ok(Request::Zip(mv("example.com/m", "v2.0.0+incompatible")))
        );
        assert_eq!(
            p("/golang.org/toolchain/@v/v0.0.1-go1.21.9.linux-amd64.zip"),
            Ok(Request::Zip(mv(
                "golang.org/toolchain",
                "v0.0.1-go1.21.9.linux-amd64"
            )))
        );
        assert_eq!(
            p("/sumdb/sum.golang.org/supported"),
            Ok(Request::Sumdb(0, SumdbOp::Supported))
        );
        assert_eq!(
            p("/sumdb/localhost.localdev/sumdb/latest"),
            Ok(Request::Sumdb(1, SumdbOp::Latest))
        );
        assert_eq!(
            p("/sumdb/sum.golang.org/lookup/rsc.io/!quote@v1.5.2"),
            Ok(Request::Sumdb(
                0,
                SumdbOp::Lookup(ModulePath::new("rsc.io/Quote").unwrap(), "v1.5.2".into())
            ))
        );
        assert!(matches!(
            p("/sumdb/sum.golang.org/tile/8/0/x001/234.p/5"),
            Ok(Request::Sumdb(0, SumdbOp::Tile(_)))
        ));
    }

    #[test]
    fn rejects_malicious_paths_before_any_access() {
        let bad = [
            "/rsc.io/quote/@v/..%2f..%2fetc.zip",
            "/%2e%2e/@v/list",
            "/rsc.io/quote%2f/@v/list",
            "/rsc.io/Quote/@v/list",
            "/rsc.io/!!quote/@v/list",
            "/rsc.io/quote!/@v/list",
            "/rsc.io/../quote/@v/list",
            "/rsc.io/./quote/@v/list",
            "/../../etc/passwd/@v/list",
            "/rsc.io/quote/@v/v1.5.2\0.zip",
            "/rsc.io\\quote/@v/list",
            "/rsc.io/quote/@v/v1.5.2/../../x.zip",
            "/rsc.io/quote/@v/V1.5.2.zip",
            "/rsc.io/quote/@v/v1.5.zip",
            "/rsc.io/quote/@v/v1.5.2+meta.zip",
            "/rsc.io/quote/@v/v2.0.0.zip",
            "/rsc.io/quote/v2/@v/v1.0.0.mod",
            "/noDot/@v/list",
            "/sumdb/sum.golang.org/lookup/rsc.io/quote",
            "/sumdb/sum.golang.org/lookup/rsc.io/quote@v1@v2",
            "/sumdb/sum.golang.org/tile/8/0/1234",
            "/sumdb/sum.golang.org/tile/8/0/x001/234.p/0",
        ];
        for b in bad {
            let e = p(b).expect_err(b);
            assert!(!e.is_not_found(), "{b}: {e}");
        }
        let long = format!("/{}/@v/list", "a".repeat(MAX_PATH_LEN));
        assert_eq!(p(&long), Err(RequestError::TooLong(long.len())));
        assert_eq!(
            p("/x%2f/@v/list"),
            Err(RequestError::BadEscape("%2F".into()))
        );
        assert_eq!(
            p("/x%zz/@v/list"),
            Err(RequestError::BadEscape("%zz".into()))
        );
        assert_eq!(p("/x%2"), Err(RequestError::BadEscape("%2".into())));
        assert_eq!(
            p("/x%00/@v/list"),
            Err(RequestError::BadEscape("%00".into()))
        );
        assert_eq!(
            p("/x%25/@v/list"),
            Err(RequestError::BadEscape("%25".into()))
        );
    }

    #[test]
    fn over_long_names_are_refused_by_length() {
        let long_v = format!("v1.0.0-{}", "a".repeat(200));
        let e = p(&format!("/example.com/m/@v/{long_v}.zip")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "version too long (207 bytes escaped; limit is 120)"
        );
        let e = p(&format!("/example.com/m/@v/{long_v}.info")).unwrap_err();
        assert_eq!(
            e,
            RequestError::Name(NameError::TooLong {
                what: "version",
                len: 207
            })
        );
        let e = p(&format!(
            "/sumdb/sum.golang.org/lookup/example.com/m@{long_v}"
        ))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "version too long (207 bytes escaped; limit is 120)"
        );
        let e = p(&format!("/example.com/{}/@v/list", "a".repeat(121))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "module path element too long (121 bytes escaped; limit is 120)"
        );
        // Upper case escapes to two bytes: the escaped length counts.
        let e = p(&format!("/example.com/{}/@latest", "!a".repeat(61))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "module path element too long (122 bytes escaped; limit is 120)"
        );
        assert!(p(&format!("/example.com/{}/@v/list", "a".repeat(120))).is_ok());
    }

    #[test]
    fn unknown_things_are_not_found() {
        for nf in [
            "/",
            "/favicon.ico",
            "/rsc.io/quote/@v/v1.0.0.tar",
            "/sumdb/other.db/supported",
        ] {
            assert!(p(nf).expect_err(nf).is_not_found(), "{nf}");
        }
    }
}
