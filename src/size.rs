//! Sizes, one syntax everywhere: `--max-zip-size`, `GOWARD_MAX_ZIP_SIZE`,
//! the config file's `max_zip_size`, the policy's `max_zip_size` and
//! `cache gc --max-size` all take a plain number of bytes or a number with a
//! unit (`100MiB`, `"100 MiB"`, `500MB`).

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// What a size may be, for messages.
pub(crate) const SIZE_SYNTAX: &str = "want a number of bytes, or a number and a unit: \
                               B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB \
                               (powers of 1024), e.g. 100MiB";

/// Parses a size: a whole number followed by an optional unit, `B`, the
/// decimal `KB MB GB TB` or the binary `KiB MiB GiB TiB`, with or without a
/// space. Units are case-insensitive; a bare `K`/`M`/`G` is rejected as
/// ambiguous. The error says what is wrong, not the value (callers name it).
pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    // No number, or a fraction (`1.5GiB`): not a unit problem.
    if num.is_empty() || unit.trim().starts_with(|c: char| !c.is_ascii_alphabetic()) {
        return Err(SIZE_SYNTAX.to_owned());
    }
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        other => return Err(format!("unknown unit {other:?}: {SIZE_SYNTAX}")),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| "too large".to_owned())
}

/// A size setting in a TOML file: an integer (bytes) or a string for
/// [`parse_size`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SizeValue {
    /// `max_zip_size = 1048576`
    Int(i64),
    /// `max_zip_size = "100 MiB"`
    Text(String),
}

impl SizeValue {
    /// The size in bytes.
    pub(crate) fn bytes(&self) -> Result<u64, String> {
        match self {
            SizeValue::Int(n) => u64::try_from(*n).map_err(|_| SIZE_SYNTAX.to_owned()),
            SizeValue::Text(s) => parse_size(s),
        }
    }
}

impl std::fmt::Display for SizeValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SizeValue::Int(n) => write!(f, "{n}"),
            SizeValue::Text(s) => write!(f, "{s:?}"),
        }
    }
}

impl<'de> Deserialize<'de> for SizeValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = SizeValue;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number of bytes or a string such as \"200 MiB\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<SizeValue, E> {
                Ok(SizeValue::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<SizeValue, E> {
                Ok(SizeValue::Int(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SizeValue, E> {
                Ok(SizeValue::Text(v.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10GiB").unwrap(), 10 << 30);
        assert_eq!(parse_size("500MB").unwrap(), 500_000_000);
        assert_eq!(parse_size("500mb").unwrap(), 500_000_000);
        assert_eq!(parse_size("100 MiB").unwrap(), 100 << 20);
        assert_eq!(parse_size("1KiB").unwrap(), 1024);
        assert_eq!(parse_size("123").unwrap(), 123);
        assert_eq!(parse_size("7B").unwrap(), 7);
        assert_eq!(parse_size(" 2 TiB ").unwrap(), 2 << 40);
        assert_eq!(parse_size("0").unwrap(), 0);
        for bad in ["", "GiB", "-1MB", "1.5GiB"] {
            assert_eq!(parse_size(bad).unwrap_err(), SIZE_SYNTAX, "{bad:?}");
        }
        assert_eq!(
            parse_size("10G").unwrap_err(),
            format!("unknown unit \"g\": {SIZE_SYNTAX}")
        );
        assert_eq!(
            parse_size("10 parsecs").unwrap_err(),
            format!("unknown unit \"parsecs\": {SIZE_SYNTAX}")
        );
        for big in [
            "20000000TiB",
            "99999999999999999999TiB",
            "99999999999999999999",
        ] {
            assert_eq!(parse_size(big).unwrap_err(), "too large", "{big:?}");
        }
    }

    #[test]
    fn toml_values() {
        #[derive(serde::Deserialize)]
        struct T {
            s: SizeValue,
        }
        let of = |t: &str| toml::from_str::<T>(t).unwrap().s.bytes();
        assert_eq!(of("s = 1048576"), Ok(1 << 20));
        assert_eq!(of("s = \"100 MiB\""), Ok(100 << 20));
        assert_eq!(of("s = -1"), Err(SIZE_SYNTAX.to_owned()));
        assert!(toml::from_str::<T>("s = 1.5").is_err());
    }
}
