//! Walking the disk store's layout (see [`crate::cache::disk`]) for the
//! offline commands: artifact metadata records and blobs.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::module;
use crate::verify::ArtifactKind;

/// One `meta/<module>/@v/<version>.{zip,mod}.json` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetaFile {
    /// Where it is.
    pub path: PathBuf,
    /// Zip or go.mod, from the file name.
    pub kind: ArtifactKind,
    /// Module path, unescaped from the directory (`Err`: not a valid escape).
    pub module: Result<String, String>,
    /// Version, unescaped from the file name.
    pub version: Result<String, String>,
}

/// One file under `blobs/sha256/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobFile {
    /// Where it is.
    pub path: PathBuf,
    /// File name (the claimed lowercase hex SHA-256).
    pub name: String,
    /// Whether the name is 64 lowercase hex digits in the right shard.
    pub well_named: bool,
    /// Size in bytes.
    pub size: u64,
    /// Last modification.
    pub modified: Option<SystemTime>,
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let ft = entry.file_type()?;
        if ft.is_dir() {
            walk(&entry.path(), out)?;
        } else if ft.is_file() {
            out.push(entry.path());
        }
    }
    Ok(())
}

/// Every artifact metadata record under `root/meta`, sorted by path.
pub fn meta_files(root: &Path) -> io::Result<Vec<MetaFile>> {
    let meta = root.join("meta");
    let mut files = Vec::new();
    walk(&meta, &mut files)?;
    files.sort();
    Ok(files
        .into_iter()
        .filter_map(|p| classify_meta(&meta, p))
        .collect())
}

/// Parses `<escaped module>/@v/<escaped version>.{zip,mod}.json` relative to
/// `meta`; other files (`.info`, `list`, `@latest`) give `None`.
pub fn classify_meta(meta: &Path, path: PathBuf) -> Option<MetaFile> {
    let rel = path.strip_prefix(meta).ok()?.to_str()?.replace('\\', "/");
    let (kind, stem) = if let Some(s) = rel.strip_suffix(".zip.json") {
        (ArtifactKind::Zip, s)
    } else if let Some(s) = rel.strip_suffix(".mod.json") {
        (ArtifactKind::Mod, s)
    } else {
        return None;
    };
    let (m, v) = stem.rsplit_once("/@v/")?;
    let module = module::unescape_path(m).map_err(|e| e.to_string());
    let version = module::unescape_version(v).map_err(|e| e.to_string());
    Some(MetaFile {
        path: path.clone(),
        kind,
        module,
        version,
    })
}

/// A cached `.info`, `@v/list` or `@latest` document under `root/meta`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocFile {
    /// Where it is.
    pub path: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// Last write.
    pub modified: Option<SystemTime>,
}

/// Every `.info`, `@v/list` and `@latest` document under `root/meta`, sorted
/// by path (temp files and artifact records excluded).
pub fn doc_files(root: &Path) -> io::Result<Vec<DocFile>> {
    let mut files = Vec::new();
    walk(&root.join("meta"), &mut files)?;
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let in_v = path
            .parent()
            .and_then(|p| p.file_name())
            .is_some_and(|n| n == "@v");
        let is_doc = (in_v && (name == "list" || name.ends_with(".info"))) || name == "@latest";
        if !is_doc {
            continue;
        }
        match fs::metadata(&path) {
            Ok(md) => out.push(DocFile {
                path,
                size: md.len(),
                modified: md.modified().ok(),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Every file under `root/blobs/sha256`, sorted by path.
pub fn blob_files(root: &Path) -> io::Result<Vec<BlobFile>> {
    let mut files = Vec::new();
    walk(&root.join("blobs/sha256"), &mut files)?;
    files.sort();
    let mut out = Vec::with_capacity(files.len());
    for path in files {
        let md = match fs::metadata(&path) {
            Ok(m) => m,
            // Quarantined or collected by someone else meanwhile.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let shard = path
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let well_named = is_sha256_hex(&name) && name.get(..2) == Some(shard.as_str());
        out.push(BlobFile {
            path,
            name,
            well_named,
            size: md.len(),
            modified: md.modified().ok(),
        });
    }
    Ok(out)
}

/// 64 lowercase hex digits.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Where the blob with this digest lives.
pub fn blob_path(root: &Path, sha256_hex: &str) -> PathBuf {
    let shard = sha256_hex.get(..2).unwrap_or("00");
    root.join("blobs/sha256").join(shard).join(sha256_hex)
}

/// Nanoseconds since the epoch (unique-enough quarantine names).
pub fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Seconds since the epoch.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_names() {
        let meta = Path::new("/c/meta");
        let m = classify_meta(meta, meta.join("example.com/!foo/@v/v1.0.0.zip.json")).unwrap();
        assert_eq!(m.kind, ArtifactKind::Zip);
        assert_eq!(m.module.unwrap(), "example.com/Foo");
        assert_eq!(m.version.unwrap(), "v1.0.0");
        let m = classify_meta(meta, meta.join("example.com/m/@v/v1.0.0.mod.json")).unwrap();
        assert_eq!(m.kind, ArtifactKind::Mod);
        assert!(classify_meta(meta, meta.join("example.com/m/@v/v1.0.0.info")).is_none());
        assert!(classify_meta(meta, meta.join("example.com/m/@v/list")).is_none());
        assert!(classify_meta(meta, meta.join("example.com/m/@latest")).is_none());
        let m = classify_meta(meta, meta.join("example.com/Bad/@v/v1.0.0.zip.json")).unwrap();
        assert!(m.module.is_err());
    }

    #[test]
    fn sha_names() {
        assert!(is_sha256_hex(&"ab".repeat(32)));
        assert!(!is_sha256_hex(&"AB".repeat(32)));
        assert!(!is_sha256_hex("abc"));
    }
}
