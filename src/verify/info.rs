//! The `.info` stage. `.info` is not authenticated by the checksum database
//! (go-protocol.md §1.4), but a `.info` naming another version is how
//! mix-and-match starts, and the go command rejects it for canonical queries
//! ("proxy returned info for version X instead of requested version").

use bytes::Bytes;

/// Upper bound on an `.info` / `@latest` body: the real ones are < 1 KiB.
pub(crate) const MAX_INFO: u64 = 64 << 10;

/// Why an `.info` or `@latest` body was rejected.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum InfoError {
    /// Not a JSON object with a string `Version`.
    #[error("invalid .info JSON: {0}")]
    Json(String),
    /// `Version` is not a canonical semantic version.
    #[error(".info names version {0:?}, which is not canonical")]
    NotCanonical(String),
    /// `Version` differs from the requested canonical version.
    #[error("upstream returned info for version {got} instead of requested version {want}")]
    WrongVersion { want: String, got: String },
    /// `Time` is present but not an RFC 3339 string.
    #[error(".info has an invalid Time {0:?}")]
    BadTime(String),
}

impl InfoError {
    /// Stable metric label.
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            InfoError::Json(_) | InfoError::BadTime(_) => "info_malformed",
            InfoError::NotCanonical(_) => "info_not_canonical",
            InfoError::WrongVersion { .. } => "info_wrong_version",
        }
    }
}

#[derive(serde::Deserialize)]
struct Info {
    #[serde(rename = "Version")]
    version: String,
    #[serde(rename = "Time")]
    time: Option<String>,
}

/// Validates an `.info`/`@latest` body and returns the version it names.
///
/// `want` is the requested version when the query was canonical; for
/// queries such as `master` or `@latest` any canonical version is accepted.
pub(crate) fn check_info(body: &Bytes, want: Option<&str>) -> Result<String, InfoError> {
    let info: Info = serde_json::from_slice(body).map_err(|e| InfoError::Json(e.to_string()))?;
    if crate::xmod::module::canonical_version(&info.version).as_deref()
        != Some(info.version.as_str())
    {
        return Err(InfoError::NotCanonical(info.version));
    }
    if let Some(want) = want
        && want != info.version
    {
        return Err(InfoError::WrongVersion {
            want: want.to_owned(),
            got: info.version,
        });
    }
    if let Some(t) = &info.time
        && !looks_like_rfc3339(t)
    {
        return Err(InfoError::BadTime(t.clone()));
    }
    Ok(info.version)
}

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`, checked by shape only.
fn looks_like_rfc3339(t: &str) -> bool {
    let b = t.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    let at = |i: usize, c: &[u8]| b.get(i).is_some_and(|x| c.contains(x));
    if b.len() < 20
        || !digits(0..4)
        || !at(4, b"-")
        || !digits(5..7)
        || !at(7, b"-")
        || !digits(8..10)
        || !at(10, b"Tt")
        || !digits(11..13)
        || !at(13, b":")
        || !digits(14..16)
        || !at(16, b":")
        || !digits(17..19)
    {
        return false;
    }
    let mut rest = &t[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &frac[n..];
    }
    match rest.as_bytes() {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_go_and_toolchain_info() {
        let b = Bytes::from_static(b"{\"Version\":\"v1.2.3\",\"Time\":\"2019-01-02T03:04:05Z\"}");
        assert_eq!(check_info(&b, Some("v1.2.3")).unwrap(), "v1.2.3");
        let b = Bytes::from_static(
            b"{\"Version\":\"v0.0.1-go1.21.9.linux-amd64\", \"Time\":\"2024-04-02T20:05:21Z\"}\n",
        );
        check_info(&b, Some("v0.0.1-go1.21.9.linux-amd64")).unwrap();
        let b = Bytes::from_static(
            b"{\"Version\":\"v1.0.0\",\"Time\":\"2019-01-02T03:04:05.123456789+01:00\",\"Origin\":{\"VCS\":\"git\"}}",
        );
        assert_eq!(check_info(&b, None).unwrap(), "v1.0.0");
    }

    #[test]
    fn rejects_mix_and_match_and_junk() {
        let b = Bytes::from_static(b"{\"Version\":\"v1.2.4\"}");
        assert_eq!(
            check_info(&b, Some("v1.2.3")).unwrap_err(),
            InfoError::WrongVersion {
                want: "v1.2.3".into(),
                got: "v1.2.4".into()
            }
        );
        let b = Bytes::from_static(b"{\"Version\":\"v1.2\"}");
        assert_eq!(
            check_info(&b, None).unwrap_err(),
            InfoError::NotCanonical("v1.2".into())
        );
        let b = Bytes::from_static(b"{\"Version\":\"v1.2.3\",\"Time\":\"yesterday\"}");
        assert_eq!(
            check_info(&b, None).unwrap_err(),
            InfoError::BadTime("yesterday".into())
        );
        assert!(matches!(
            check_info(&Bytes::from_static(b"[]"), None),
            Err(InfoError::Json(_))
        ));
        assert!(matches!(
            check_info(&Bytes::from_static(b"{}"), None),
            Err(InfoError::Json(_))
        ));
    }
}
