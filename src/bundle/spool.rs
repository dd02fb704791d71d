//! Lists that grow with the number of versions, kept on disk instead of in
//! memory: an export appends each manifest entry to an unnamed temp file
//! as it goes and writes the manifest from it at the end; an import spools
//! the digests of the tar entries that come before the manifest. Neither
//! holds a list that grows with the size of the bundle.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, Write};
use std::marker::PhantomData;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Serialize, Serializer};

use super::{BundleError, FileEntry, ManifestDb, ModuleVersionEntry, io_err};

/// Items of one type as JSON lines in an unnamed temp file (removed by
/// the OS when it is dropped, even if the process dies).
pub(crate) struct Spool<T> {
    w: BufWriter<File>,
    len: usize,
    _items: PhantomData<T>,
}

impl<T: Serialize + DeserializeOwned> Spool<T> {
    /// A new, empty spool in `dir`.
    pub(crate) fn new(dir: &Path) -> Result<Self, BundleError> {
        let f = tempfile::tempfile_in(dir).map_err(io_err("create a temp file in", dir))?;
        Ok(Spool {
            w: BufWriter::new(f),
            len: 0,
            _items: PhantomData,
        })
    }

    /// Appends one item.
    pub(crate) fn push(&mut self, item: &T) -> Result<(), BundleError> {
        let fail = |e: &dyn std::fmt::Display| {
            BundleError::Other(format!("writing the export's spool file: {e}"))
        };
        serde_json::to_writer(&mut self.w, item).map_err(|e| fail(&e))?;
        self.w.write_all(b"\n").map_err(|e| fail(&e))?;
        self.len = self.len.saturating_add(1);
        Ok(())
    }

    /// How many items were pushed.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Done writing: the items, ready to be read back in order.
    pub(crate) fn finish(self) -> Result<Spooled<T>, BundleError> {
        let fail = |e: &dyn std::fmt::Display| {
            BundleError::Other(format!("writing the export's spool file: {e}"))
        };
        let f = self.w.into_inner().map_err(|e| fail(&e.into_error()))?;
        Ok(Spooled {
            file: f,
            len: self.len,
            _items: PhantomData,
        })
    }
}

/// A finished [`Spool`]: serializes as a JSON sequence of its items, read
/// back one at a time.
pub(crate) struct Spooled<T> {
    file: File,
    len: usize,
    _items: PhantomData<T>,
}

impl<T: DeserializeOwned> Spooled<T> {
    /// The items, in the order pushed, read from the start of the file.
    pub(crate) fn items(&self) -> std::io::Result<Items<'_, T>> {
        let mut f = &self.file;
        f.rewind()?;
        Ok(Items {
            r: BufReader::new(f),
            line: String::new(),
            _items: PhantomData,
        })
    }
}

/// Reads a [`Spooled`]'s items back one at a time.
pub(crate) struct Items<'a, T> {
    r: BufReader<&'a File>,
    line: String,
    _items: PhantomData<T>,
}

impl<T: DeserializeOwned> Iterator for Items<'_, T> {
    type Item = Result<T, String>;
    fn next(&mut self) -> Option<Self::Item> {
        self.line.clear();
        match self.r.read_line(&mut self.line) {
            Ok(0) => None,
            Ok(_) => Some(serde_json::from_str(&self.line).map_err(|e| e.to_string())),
            Err(e) => Some(Err(e.to_string())),
        }
    }
}

impl<T: Serialize + DeserializeOwned> Serialize for Spooled<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};
        let mut seq = s.serialize_seq(Some(self.len))?;
        for item in self.items().map_err(S::Error::custom)? {
            seq.serialize_element(&item.map_err(S::Error::custom)?)?;
        }
        seq.end()
    }
}

/// A manifest written from spools: the same JSON as [`super::Manifest`]
/// (its field names and order), without holding the lists.
#[derive(Serialize)]
pub(crate) struct SpooledManifest<'a> {
    pub(crate) format: u32,
    pub(crate) goward: &'a str,
    pub(crate) created: u64,
    pub(crate) sumdb: &'a [ManifestDb],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) since: Option<&'a [ManifestDb]>,
    pub(crate) modules: &'a Spooled<ModuleVersionEntry>,
    pub(crate) files: &'a Spooled<FileEntry>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::super::{FORMAT, Manifest};
    use super::*;

    /// What an export writes from its spools parses as the manifest with
    /// the same lists.
    #[test]
    fn a_spooled_manifest_reads_back_as_the_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let modules: Vec<ModuleVersionEntry> = (0..3)
            .map(|i| ModuleVersionEntry {
                path: format!("example.com/m{i}"),
                version: "v1.0.0".into(),
            })
            .collect();
        let files: Vec<FileEntry> = (0..5)
            .map(|i| FileEntry {
                path: format!("example.com/m{i}/@v/v1.0.0.mod"),
                sha256: format!("{i:064x}"),
                size: i,
            })
            .collect();
        let mut ms = Spool::new(dir.path()).unwrap();
        for m in &modules {
            ms.push(m).unwrap();
        }
        let mut fs = Spool::new(dir.path()).unwrap();
        for f in &files {
            fs.push(f).unwrap();
        }
        assert_eq!((ms.len(), fs.len()), (3, 5));
        let heads = vec![ManifestDb {
            name: "sum.golang.org".into(),
            size: 7,
            head: "note\n".into(),
        }];
        let (ms, fs) = (ms.finish().unwrap(), fs.finish().unwrap());
        for since in [None, Some(&heads[..])] {
            let json = serde_json::to_vec_pretty(&SpooledManifest {
                format: FORMAT,
                goward: "test",
                created: 9,
                sumdb: &heads,
                since,
                modules: &ms,
                files: &fs,
            })
            .unwrap();
            let want = Manifest {
                format: FORMAT,
                goward: "test".into(),
                created: 9,
                sumdb: heads.clone(),
                since: since.map(<[ManifestDb]>::to_vec),
                modules: modules.clone(),
                files: files.clone(),
            };
            assert_eq!(Manifest::parse(&json, Path::new("m.json")).unwrap(), want);
            assert_eq!(json, serde_json::to_vec_pretty(&want).unwrap());
        }
    }
}
