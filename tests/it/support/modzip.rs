//! Module zip builder and an independent `h1:` oracle for the integration tests.
//!
//! [`ModZip`] builds well-formed module zips (every entry under `path@version/`, deflated, as
//! golang.org/x/mod `zip.Create` would) and, for attack tests, zips that break the rules on
//! purpose: raw entry names, symlinks, directory entries, duplicate names and headers that lie
//! about the uncompressed size.
//!
//! [`h1_zip`] and [`h1_mod`] recompute go.sum hashes from scratch (SHA-256 + base64, go-protocol.md
//! §3; x/mod `sumdb/dirhash/hash.go` `Hash1`, `HashZip`; cmd/go `modfetch/fetch.go` `goModSum`).
//! They deliberately do not call the goward library: they are the oracle the library is judged by.

use std::collections::{BTreeMap, HashSet};
use std::io::{Cursor, Read, Write};

use base64::Engine as _;
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipArchive, ZipWriter};

/// One entry as the test wants it to appear in the archive.
#[derive(Clone, Debug)]
enum Entry {
    File { name: String, data: Vec<u8> },
    Dir { name: String },
    Symlink { name: String, target: String },
}

impl Entry {
    fn name(&self) -> &str {
        match self {
            Entry::File { name, .. } | Entry::Dir { name } | Entry::Symlink { name, .. } => name,
        }
    }

    /// The bytes Go's `zip.File.Open` yields for this entry, which is what `HashZip` hashes.
    fn content(&self) -> &[u8] {
        match self {
            Entry::File { data, .. } => data,
            Entry::Dir { .. } => &[],
            Entry::Symlink { target, .. } => target.as_bytes(),
        }
    }
}

/// Builder for module zips, good or deliberately malicious.
#[derive(Clone, Debug)]
pub(crate) struct ModZip {
    path: String,
    version: String,
    entries: Vec<Entry>,
    /// Full entry name → uncompressed size to write into the local and central headers instead of
    /// the real one (the "declared size" attacks, x/mod zip.go `CheckZip` size accounting).
    declared: Vec<(String, u64)>,
    method: CompressionMethod,
}

impl ModZip {
    /// An empty zip for module `path` at `version`.
    pub(crate) fn new(path: &str, version: &str) -> ModZip {
        ModZip {
            path: path.to_owned(),
            version: version.to_owned(),
            entries: Vec::new(),
            declared: Vec::new(),
            method: CompressionMethod::Deflated,
        }
    }

    /// The module path.
    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    /// The module version.
    pub(crate) fn version(&self) -> &str {
        &self.version
    }

    /// The `path@version/` prefix every well-formed entry carries.
    pub(crate) fn prefix(&self) -> String {
        format!("{}@{}/", self.path, self.version)
    }

    /// Adds a regular file at `name` relative to the module root.
    pub(crate) fn file(mut self, name: &str, data: impl AsRef<[u8]>) -> ModZip {
        let name = format!("{}{name}", self.prefix());
        self.entries.push(Entry::File {
            name,
            data: data.as_ref().to_vec(),
        });
        self
    }

    /// Adds a regular file whose entry name is exactly `full_name` (no prefix is added), so tests
    /// can write names outside the module root, `..`, absolute paths, backslashes, duplicates.
    pub(crate) fn raw(mut self, full_name: &str, data: impl AsRef<[u8]>) -> ModZip {
        self.entries.push(Entry::File {
            name: full_name.to_owned(),
            data: data.as_ref().to_vec(),
        });
        self
    }

    /// Adds a symbolic link at `name` (relative to the module root) pointing at `target`.
    pub(crate) fn symlink(mut self, name: &str, target: &str) -> ModZip {
        let name = format!("{}{name}", self.prefix());
        self.entries.push(Entry::Symlink {
            name,
            target: target.to_owned(),
        });
        self
    }

    /// Adds a directory entry at `name` (relative to the module root); a trailing `/` is added.
    /// `zip.Create` never writes these, but they change the zip's h1 (go-protocol.md §3.2).
    pub(crate) fn dir(mut self, name: &str) -> ModZip {
        let mut name = format!("{}{name}", self.prefix());
        if !name.ends_with('/') {
            name.push('/');
        }
        self.entries.push(Entry::Dir { name });
        self
    }

    /// Makes every header of the entry named exactly `full_name` declare `size` uncompressed
    /// bytes whatever the real content is (zip bombs and "larger than declared size").
    pub(crate) fn declared_size(mut self, full_name: &str, size: u64) -> ModZip {
        self.declared.push((full_name.to_owned(), size));
        self
    }

    /// Stores entries uncompressed instead of deflating them (useful when a test wants to find
    /// file content verbatim inside the zip bytes).
    pub(crate) fn stored(mut self) -> ModZip {
        self.method = CompressionMethod::Stored;
        self
    }

    /// Whether a regular file named `name` (relative to the module root) was added.
    pub(crate) fn has_file(&self, name: &str) -> bool {
        let full = format!("{}{name}", self.prefix());
        self.entries
            .iter()
            .any(|e| matches!(e, Entry::File { name, .. } if *name == full))
    }

    /// The h1 of the intended entries (names as given, last duplicate wins, exactly like
    /// x/mod `dirhash.HashZip`), computed without reading the built archive. Use it for zips whose
    /// headers lie, which no honest reader can hash.
    pub(crate) fn h1(&self) -> String {
        let mut last: BTreeMap<&str, &[u8]> = BTreeMap::new();
        for e in &self.entries {
            last.insert(e.name(), e.content());
        }
        let files: Vec<(Vec<u8>, Vec<u8>)> = self
            .entries
            .iter()
            .map(|e| (e.name().as_bytes().to_vec(), last[e.name()].to_vec()))
            .collect();
        hash1(&files)
    }

    /// Serializes the archive.
    pub(crate) fn build(&self) -> Vec<u8> {
        // The zip crate refuses duplicate names, so a duplicate is written under a unique
        // placeholder of the same byte length and renamed in place afterwards.
        let mut used: HashSet<String> = self.entries.iter().map(|e| e.name().to_owned()).collect();
        let mut seen: HashSet<&str> = HashSet::new();
        let mut renames: Vec<(String, String)> = Vec::new();
        let mut w = ZipWriter::new(Cursor::new(Vec::new()));
        for e in &self.entries {
            let mut name = e.name().to_owned();
            if !seen.insert(e.name()) {
                let placeholder = placeholder_for(&name, matches!(e, Entry::Dir { .. }), &used);
                used.insert(placeholder.clone());
                renames.push((placeholder.clone(), name));
                name = placeholder;
            }
            let opts = SimpleFileOptions::default()
                .compression_method(self.method)
                .last_modified_time(DateTime::default());
            match e {
                Entry::File { data, .. } => {
                    w.start_file(name, opts).expect("zip: start file");
                    w.write_all(data).expect("zip: write file");
                }
                Entry::Dir { .. } => w.add_directory(name, opts).expect("zip: add directory"),
                Entry::Symlink { target, .. } => {
                    w.add_symlink(name, target, opts).expect("zip: add symlink")
                }
            }
        }
        let mut bytes = w.finish().expect("zip: finish").into_inner();
        patch_headers(&mut bytes, &renames, &self.declared);
        bytes
    }
}

/// A name of the same byte length as `name` that is not in `used` (dirs keep their trailing `/`).
fn placeholder_for(name: &str, dir: bool, used: &HashSet<String>) -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let len = name.len() - usize::from(dir);
    for mut n in 0u64.. {
        let mut s = vec![b'0'; len];
        for slot in s.iter_mut().rev() {
            *slot = ALPHABET[(n % 62) as usize];
            n /= 62;
        }
        let mut candidate = String::from_utf8(s).expect("ASCII alphabet");
        if dir {
            candidate.push('/');
        }
        if !used.contains(&candidate) {
            return candidate;
        }
    }
    unreachable!("placeholder space exhausted for {name:?}")
}

fn u16_at(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

fn u32_at(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize
}

/// One central-directory record: where it is and what it says.
struct CentralEntry {
    /// Offset of the central header.
    at: usize,
    /// Offset of the local header.
    local: usize,
    name: Vec<u8>,
}

/// Walks the central directory by hand: the zip crate's reader folds duplicate names into one
/// entry, but Go's `archive/zip` (and so `dirhash.HashZip`) keeps every record.
fn central_directory(zip: &[u8]) -> Result<Vec<CentralEntry>, String> {
    let eocd = (0..=zip.len().checked_sub(22).ok_or("zip: too short")?)
        .rev()
        .find(|&i| zip[i..i + 4] == [0x50, 0x4b, 0x05, 0x06])
        .ok_or("zip: no end of central directory")?;
    let count = u16_at(zip, eocd + 10);
    let mut at = u32_at(zip, eocd + 16);
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        if zip
            .get(at..at + 46)
            .is_none_or(|h| h[..4] != [0x50, 0x4b, 0x01, 0x02])
        {
            return Err(format!("zip: central header {i} missing"));
        }
        let name_len = u16_at(zip, at + 28);
        let next = at + 46 + name_len + u16_at(zip, at + 30) + u16_at(zip, at + 32);
        let name = zip
            .get(at + 46..at + 46 + name_len)
            .ok_or("zip: truncated name")?
            .to_vec();
        out.push(CentralEntry {
            at,
            local: u32_at(zip, at + 42),
            name,
        });
        at = next;
    }
    Ok(out)
}

/// Every entry name in the central directory, in order, duplicates included.
pub(crate) fn central_names(zip: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    Ok(central_directory(zip)?
        .into_iter()
        .map(|e| e.name)
        .collect())
}

/// Rewrites names and declared sizes in both the central directory and the local headers.
fn patch_headers(zip: &mut [u8], renames: &[(String, String)], declared: &[(String, u64)]) {
    if renames.is_empty() && declared.is_empty() {
        return;
    }
    for e in central_directory(zip).expect("zip: just built") {
        let (at, local, n) = (e.at, e.local, e.name.len());
        let name = String::from_utf8_lossy(&e.name).into_owned();
        let final_name = match renames.iter().find(|(p, _)| *p == name) {
            Some((_, real)) => {
                zip[at + 46..at + 46 + n].copy_from_slice(real.as_bytes());
                zip[local + 30..local + 30 + n].copy_from_slice(real.as_bytes());
                real.clone()
            }
            None => name,
        };
        if let Some((_, size)) = declared.iter().find(|(n, _)| *n == final_name) {
            let size = u32::try_from(*size).expect("declared sizes above 4 GiB need zip64");
            zip[at + 24..at + 28].copy_from_slice(&size.to_le_bytes());
            zip[local + 22..local + 26].copy_from_slice(&size.to_le_bytes());
        }
    }
}

/// Go's `dirhash.Hash1` over `(name, content)` pairs (hash.go 44–65): sort names bytewise, hash
/// `hex(sha256(content)) + "  " + name + "\n"` lines, base64 the SHA-256 of that summary.
pub(crate) fn hash1(files: &[(Vec<u8>, Vec<u8>)]) -> String {
    let mut sorted: Vec<&(Vec<u8>, Vec<u8>)> = files.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut summary = Vec::new();
    for (name, content) in sorted {
        assert!(
            !name.contains(&b'\n'),
            "dirhash: filenames with newlines are not supported"
        );
        for byte in Sha256::digest(content) {
            summary.extend_from_slice(format!("{byte:02x}").as_bytes());
        }
        summary.extend_from_slice(b"  ");
        summary.extend_from_slice(name);
        summary.push(b'\n');
    }
    format!(
        "h1:{}",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&summary))
    )
}

/// The go.sum hash of a module zip (`path version h1:…`): every central-directory name as stored,
/// each with its content, duplicates resolving to the last entry (x/mod `dirhash.HashZip`).
/// Panics if the archive cannot be read; see [`try_h1_zip`].
pub(crate) fn h1_zip(zip: &[u8]) -> String {
    try_h1_zip(zip).unwrap_or_else(|e| panic!("h1_zip: {e}"))
}

/// [`h1_zip`] that reports unreadable archives (bad headers, lying sizes) instead of panicking.
pub(crate) fn try_h1_zip(zip: &[u8]) -> Result<String, String> {
    let names = central_names(zip)?;
    // The zip crate keeps the last record of a duplicated name, as Go's `zfiles[name]` does.
    let mut archive = ZipArchive::new(Cursor::new(zip)).map_err(|e| format!("not a zip: {e}"))?;
    let mut content_of: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).map_err(|e| format!("entry {i}: {e}"))?;
        let mut content = Vec::new();
        f.read_to_end(&mut content)
            .map_err(|e| format!("reading entry {i}: {e}"))?;
        content_of.insert(f.name_raw().to_vec(), content);
    }
    let files = names
        .into_iter()
        .map(|n| match content_of.get(&n) {
            Some(c) => Ok((n.clone(), c.clone())),
            None => Err(format!(
                "entry {:?} unreadable",
                String::from_utf8_lossy(&n)
            )),
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(hash1(&files))
}

/// The go.sum hash of a go.mod (`path version/go.mod h1:…`): `Hash1` over one file named exactly
/// `go.mod` (cmd/go `modfetch/fetch.go` `goModSum`).
pub(crate) fn h1_mod(go_mod: &[u8]) -> String {
    hash1(&[(b"go.mod".to_vec(), go_mod.to_vec())])
}

/// Incompressible bytes (xorshift), so a zip holding them is about `len` bytes long and
/// deflate cannot shrink a trickled transfer. Different seeds give different bytes.
pub(crate) fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// zip_test.go `emptyHash`; go-protocol.md §3.1 [verified].
    #[test]
    fn hash1_of_nothing() {
        assert_eq!(
            hash1(&[]),
            "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    /// fetch.go `emptyGoModHash` and the toolchain go.mod hash (go-protocol.md §3.3 [verified]).
    #[test]
    fn h1_mod_vectors() {
        assert_eq!(
            h1_mod(b""),
            "h1:G7mAYYxgmS0lVkHyy2hEOLQCFB0DlQFTMLWggykrydY="
        );
        assert_eq!(
            h1_mod(b"module golang.org/toolchain\n"),
            "h1:8wlg68NqwW7eMnI1aABk/C2pDYXj8mrMY4TyRfiLeS0="
        );
    }

    /// x/mod v0.43.0 `zip/testdata/create/simple.txt`: the hash `zip.Create` output must have.
    #[test]
    fn h1_zip_matches_xmod_simple_vector() {
        let z = ModZip::new("example.com/m", "v1.0.0")
            .file("go.mod", "module example.com/m\n\ngo 1.13\n")
            .file("m.go", "package m\n\nfunc Foo() int { return 42 }\n")
            .file(
                "cmd/hello/hello.go",
                "package main\n\nimport (\n  \"fmt\"\n  \"example.com/m\"\n)\n\nfunc main() {\n  fmt.Println(m.Foo())\n}\n",
            );
        let want = "h1:tpqYOOmuilagXzyqoJ3roUjp8gneQeTv5YVpL6BG7/k=";
        assert_eq!(z.h1(), want);
        assert_eq!(h1_zip(&z.build()), want);
        assert_eq!(h1_zip(&z.clone().stored().build()), want);
    }

    #[test]
    fn directory_entries_change_the_hash() {
        let base = ModZip::new("example.com/m", "v1.0.0").file("a.go", "package m\n");
        let with_dir = base.clone().dir("sub");
        assert_ne!(h1_zip(&base.build()), h1_zip(&with_dir.build()));
        assert_eq!(h1_zip(&with_dir.build()), with_dir.h1());
    }

    #[test]
    fn raw_names_symlinks_and_duplicates_survive_the_build() {
        let z = ModZip::new("example.com/m", "v1.0.0")
            .file("a.go", "package m // first\n")
            .raw("example.com/m@v1.0.0/a.go", "package m // second\n")
            .raw("example.com/m@v1.0.0/../../evil.go", "package evil\n")
            .symlink("link", "/etc/passwd")
            .dir("d");
        let bytes = z.build();
        let names = central_names(&bytes).unwrap();
        let want: Vec<&[u8]> = vec![
            b"example.com/m@v1.0.0/a.go",
            b"example.com/m@v1.0.0/a.go",
            b"example.com/m@v1.0.0/../../evil.go",
            b"example.com/m@v1.0.0/link",
            b"example.com/m@v1.0.0/d/",
        ];
        assert_eq!(names, want);
        let mut a = ZipArchive::new(Cursor::new(&bytes)).unwrap();
        let mut second = String::new();
        a.by_name("example.com/m@v1.0.0/a.go")
            .unwrap()
            .read_to_string(&mut second)
            .unwrap();
        assert_eq!(second, "package m // second\n");
        assert!(a.by_name("example.com/m@v1.0.0/link").unwrap().is_symlink());
        assert_eq!(h1_zip(&bytes), z.h1());
    }

    #[test]
    fn declared_size_lies_in_both_headers() {
        let z = ModZip::new("example.com/m", "v1.0.0")
            .stored()
            .file("big.bin", vec![7u8; 100])
            .declared_size("example.com/m@v1.0.0/big.bin", 600 << 20);
        let bytes = z.build();
        let a = ZipArchive::new(Cursor::new(&bytes)).unwrap();
        assert_eq!(a.decompressed_size(), Some(600 << 20));
        // Local header (offset 0): uncompressed size at 22.
        assert_eq!(u32_at(&bytes, 22), 600 << 20);
    }
}
