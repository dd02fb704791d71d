//! The shared vocabulary: what an artifact is (a module version's zip or
//! go.mod), the validated module path and version that name it, and the
//! digests that identify its bytes. A leaf: it depends only on the Go ports
//! in [`crate::xmod`], so every stage (request, policy, cache, upstream,
//! verify, service) speaks of artifacts in the same types without depending
//! on one another.
#![deny(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use crate::xmod::module;

/// The `h1:` hash (x/mod dirhash), the digest go.sum lines and checksum
/// databases speak in; defined beside its Go port.
pub use crate::xmod::dirhash::H1;

/// Which half of a module version an `h1:` line speaks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArtifactKind {
    /// `path version h1:…`
    Zip,
    /// `path version/go.mod h1:…`
    Mod,
}

impl ArtifactKind {
    /// The name used in messages and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            ArtifactKind::Zip => "zip",
            ArtifactKind::Mod => "go.mod",
        }
    }
}

/// The digests of an artifact's bytes (a stored blob's, as read back).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobDigests {
    /// `h1:` of the bytes as the artifact kind the record says.
    pub h1: H1,
    /// SHA-256 of the bytes.
    pub sha256: [u8; 32],
    /// Size in bytes.
    pub size: u64,
    /// A zip's root go.mod's SHA-256, read from the zip (`None`: it has
    /// none, or the blob is a go.mod).
    pub go_mod_sha256: Option<[u8; 32]>,
}

/// Why a module path or version is not a valid name for an artifact. The
/// request layer reports each as a 400.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameError {
    /// An escaped module path element or version over [`MAX_NAME_LEN`].
    #[error("{what} too long ({len} bytes escaped; limit is {MAX_NAME_LEN})")]
    TooLong { what: &'static str, len: usize },
    /// The module path does not decode or is not a valid module path.
    #[error("{0}")]
    BadModule(String),
    /// The version does not decode or does not fit the module path.
    #[error("{0}")]
    BadVersion(String),
    /// `.mod`/`.zip` need canonical versions (the go command only asks for those).
    #[error("version {version:?} is not canonical{}", canonical.as_ref().map(|c| format!(" (should be {c:?})")).unwrap_or_default())]
    NotCanonical {
        version: String,
        canonical: Option<String>,
    },
}

/// Longest escaped module path element or version: cache file names such as
/// `<element>@<version>` (checksum lookups) and `<version>.zip.json` must
/// stay under the 255-byte limit of common filesystems.
pub const MAX_NAME_LEN: usize = 120;

/// Refuses an escaped version over [`MAX_NAME_LEN`].
pub fn check_version_len(escaped: &str) -> Result<(), NameError> {
    if escaped.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong {
            what: "version",
            len: escaped.len(),
        });
    }
    Ok(())
}

/// A validated module path with its case-encoded form.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ModulePath {
    path: String,
    escaped: String,
}

impl ModulePath {
    /// Validates a decoded module path.
    pub fn new(path: &str) -> Result<ModulePath, NameError> {
        module::check_path(path).map_err(|e| NameError::BadModule(e.to_string()))?;
        let escaped = module::escape_path(path).map_err(|e| NameError::BadModule(e.to_string()))?;
        if let Some(e) = escaped.split('/').find(|e| e.len() > MAX_NAME_LEN) {
            return Err(NameError::TooLong {
                what: "module path element",
                len: e.len(),
            });
        }
        Ok(ModulePath {
            path: path.to_owned(),
            escaped,
        })
    }

    /// The module path.
    pub fn as_str(&self) -> &str {
        &self.path
    }

    /// The case-encoded path (safe as a relative file or URL path).
    pub fn escaped(&self) -> &str {
        &self.escaped
    }
}

/// A module at a canonical version that fits its path's major version.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ModuleVersion {
    /// The module.
    pub module: ModulePath,
    version: String,
    escaped_version: String,
}

impl ModuleVersion {
    /// Validates that `version` is canonical and valid for `module`.
    pub fn new(module: ModulePath, version: &str) -> Result<ModuleVersion, NameError> {
        match module::canonical_version(version) {
            Some(c) if c == version => {}
            Some(c) => {
                return Err(NameError::NotCanonical {
                    version: version.to_owned(),
                    canonical: Some(c),
                });
            }
            None => {
                return Err(NameError::NotCanonical {
                    version: version.to_owned(),
                    canonical: None,
                });
            }
        }
        module::check(module.as_str(), version)
            .map_err(|e| NameError::BadVersion(e.to_string()))?;
        let escaped_version =
            module::escape_version(version).map_err(|e| NameError::BadVersion(e.to_string()))?;
        check_version_len(&escaped_version)?;
        Ok(ModuleVersion {
            module,
            version: version.to_owned(),
            escaped_version,
        })
    }

    /// The canonical version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The case-encoded version.
    pub fn escaped_version(&self) -> &str {
        &self.escaped_version
    }

    /// Relative upstream path of `@v/<version>.<ext>`.
    pub fn upstream_path(&self, ext: &str) -> String {
        format!(
            "{}/@v/{}.{ext}",
            self.module.escaped(),
            self.escaped_version
        )
    }
}

impl std::fmt::Display for ModuleVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.module.as_str(), self.version)
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
    fn names_are_validated_with_messages_that_say_why() {
        let m = ModulePath::new("example.com/Foo").unwrap();
        assert_eq!(
            (m.as_str(), m.escaped()),
            ("example.com/Foo", "example.com/!foo")
        );
        let mv = ModuleVersion::new(m.clone(), "v1.0.0").unwrap();
        assert_eq!(mv.to_string(), "example.com/Foo@v1.0.0");
        assert_eq!(mv.upstream_path("zip"), "example.com/!foo/@v/v1.0.0.zip");
        assert_eq!(
            ModuleVersion::new(m.clone(), "v1.0")
                .unwrap_err()
                .to_string(),
            "version \"v1.0\" is not canonical (should be \"v1.0.0\")"
        );
        assert!(matches!(
            ModuleVersion::new(m.clone(), "v2.0.0"),
            Err(NameError::BadVersion(_))
        ));
        let long = format!("v1.0.0-{}", "a".repeat(MAX_NAME_LEN));
        assert_eq!(
            ModuleVersion::new(m, &long).unwrap_err().to_string(),
            format!(
                "version too long ({} bytes escaped; limit is {MAX_NAME_LEN})",
                long.len()
            )
        );
        assert!(matches!(
            ModulePath::new("not a path"),
            Err(NameError::BadModule(_))
        ));
    }
}
