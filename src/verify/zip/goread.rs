//! Go's archive/zip reader (go1.26 `archive/zip/reader.go`), ported for the parts that decide
//! what the go command extracts from a module zip: where the central directory is
//! (`readDirectoryEnd`), which entries it lists (`Reader.init`, `readDirectoryHeader`, with its
//! zip64 handling and its int64 arithmetic), where each entry's data starts (`findBodyOffset`)
//! and what `File.Open` yields (`checksumReader`, `readDataDescriptor`).
//!
//! This is the verifier's authority: the names it checks and the bytes it hashes come from here,
//! so they are what x/mod's `CheckZip`, `HashZip` and `Unzip` see. Where Go would fail to read
//! the zip, or an entry, the functions fail too; a few places are stricter (the CRC is always
//! checked, a deflate stream must end). Every read is bounded: the central directory is walked
//! one header at a time and entry data is streamed.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};

use sha2::{Digest, Sha256};

use crate::xmod::dirhash::ContentError;

const CENTRAL_SIG: [u8; 4] = *b"PK\x01\x02";
const LOCAL_SIG: [u8; 4] = *b"PK\x03\x04";
const END_SIG: [u8; 4] = *b"PK\x05\x06";
const END64_LOCATOR_SIG: [u8; 4] = *b"PK\x06\x07";
const END64_SIG: [u8; 4] = *b"PK\x06\x06";
const DESCRIPTOR_SIG: [u8; 4] = *b"PK\x07\x08";
const END_LEN: usize = 22;
const CENTRAL_LEN: usize = 46;
const LOCAL_LEN: usize = 30;

/// Zip64 extended information (APPNOTE 4.5.3).
const ZIP64_EXTRA: u16 = 0x0001;
/// Info-ZIP Unicode Path: a UTF-8 name that other readers use instead of the stored one.
const UNICODE_PATH: u16 = 0x7075;
/// Info-ZIP Unicode Comment.
const UNICODE_COMMENT: u16 = 0x6375;

/// Why Go's archive/zip cannot open the archive at all.
pub(super) type Unreadable = &'static str;

/// The central directory as Go's `readDirectoryEnd` finds it.
#[derive(Debug)]
pub(super) struct Directory {
    /// Absolute offset of the first central-directory header (Go's initial seek).
    pub(super) start: u64,
    /// Go's `baseOffset`, added (as int64, wrapping) to every local-header offset.
    pub(super) base: i64,
    /// The entry count of the end record; Go compares it modulo 65536.
    pub(super) records: u64,
}

/// One central-directory entry as Go's `readDirectoryHeader` reads it.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    /// Offset of its central-directory header.
    pub(super) central: u64,
    /// The name bytes exactly as stored: Go's `File.Name`.
    pub(super) name: Vec<u8>,
    /// "Version made by": the creator system in the high byte (Go's `CreatorVersion`).
    pub(super) creator: u16,
    /// General-purpose flags (bit 3: a data descriptor follows the data).
    pub(super) flags: u16,
    /// Compression method (0 store, 8 deflate).
    pub(super) method: u16,
    pub(super) crc32: u32,
    /// Compressed size, from the first zip64 block if the 32-bit field is saturated.
    pub(super) compressed: u64,
    /// Uncompressed size, likewise.
    pub(super) uncompressed: u64,
    /// External attributes (Unix mode in the high 16 bits for Unix creators).
    pub(super) external: u32,
    /// Go's `headerOffset`: the stored offset (or the first zip64 block's) plus `baseOffset`.
    pub(super) header_offset: i64,
    /// What the extra fields hold beyond Go's reading of them.
    pub(super) extras: Extras,
}

/// The extra fields goward refuses, found while reading them as Go does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Extras {
    /// Number of zip64 blocks (Go reads the first, the zip crate and others the last).
    pub(super) zip64: u32,
    /// The first Info-ZIP Unicode Path or Comment field's ID.
    pub(super) unicode: Option<u16>,
    /// The ID of a field whose length runs past the extra data (Go stops reading there).
    pub(super) overrun: Option<u16>,
}

/// What one header read gives (Go's `readDirectoryHeader` result, as `Reader.init` treats it).
enum Header {
    /// The entry, and the length of its header (fixed part, name, extra, comment).
    Entry(Entry, u64),
    /// `ErrFormat` or `io.ErrUnexpectedEOF`: Go's walk ends here.
    End,
    /// `io.EOF` (nothing left to read): Go's `NewReader` fails.
    Eof,
}

/// Reads until `buf` is full or the input ends; returns how much was read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while let Some(rest) = buf.get_mut(got..) {
        if rest.is_empty() {
            break;
        }
        match r.read(rest) {
            Ok(0) => break,
            Ok(n) => got = got.saturating_add(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Up to `len` bytes at `pos` (fewer at the end of the file).
fn read_at(f: &File, pos: u64, len: usize) -> io::Result<Vec<u8>> {
    let mut r = f;
    r.seek(SeekFrom::Start(pos))?;
    let mut buf = vec![0u8; len];
    let got = read_full(&mut r, &mut buf)?;
    buf.truncate(got);
    Ok(buf)
}

fn u16le(b: &[u8], at: usize) -> u16 {
    let mut v = [0u8; 2];
    if let Some(s) = b.get(at..at.saturating_add(2)) {
        v.copy_from_slice(s);
    }
    u16::from_le_bytes(v)
}

fn u32le(b: &[u8], at: usize) -> u32 {
    let mut v = [0u8; 4];
    if let Some(s) = b.get(at..at.saturating_add(4)) {
        v.copy_from_slice(s);
    }
    u32::from_le_bytes(v)
}

fn u64le(b: &[u8], at: usize) -> u64 {
    let mut v = [0u8; 8];
    if let Some(s) = b.get(at..at.saturating_add(8)) {
        v.copy_from_slice(s);
    }
    u64::from_le_bytes(v)
}

/// Go's `readDirectoryEnd`: the *last* end record in the final 65 KiB whose comment fits
/// (`findSignatureInBlock` gives up at the first one from the end), its zip64 records when a
/// 32-bit field is saturated (`findDirectory64End`, `readDirectory64End`), and the `baseOffset`
/// rules, in Go's wrapping int64 arithmetic.
pub(super) fn directory_end(f: &File, size: u64) -> io::Result<Result<Directory, Unreadable>> {
    const NO_END: Unreadable = "no end of central directory record that Go's archive/zip accepts";
    let tail_len = size.min(65 * 1024);
    let tail_start = size.saturating_sub(tail_len);
    let tail = read_at(f, tail_start, usize::try_from(tail_len).unwrap_or(0))?;
    let Some(last) = tail.len().checked_sub(END_LEN) else {
        return Ok(Err(NO_END));
    };
    let Some(i) = (0..=last)
        .rev()
        .find(|&i| tail.get(i..).is_some_and(|t| t.starts_with(&END_SIG)))
    else {
        return Ok(Err(NO_END));
    };
    let b = tail.get(i..).unwrap_or_default();
    if usize::from(u16le(b, 20)).saturating_add(END_LEN) > b.len() {
        return Ok(Err(NO_END)); // a truncated comment: Go does not look further
    }
    let mut end_offset = tail_start.saturating_add(i as u64) as i64;
    let mut records = u64::from(u16le(b, 10));
    let mut dir_size = u64::from(u32le(b, 12));
    let mut dir_offset = u64::from(u32le(b, 16));
    // Go's condition, including its comparison of the 32-bit size with 0xffff.
    if records == 0xffff || dir_size == 0xffff || dir_offset == 0xffff_ffff {
        let loc_offset = end_offset.wrapping_sub(20);
        if loc_offset >= 0 {
            let l = read_at(f, loc_offset as u64, 20)?;
            if l.len() < 20 {
                return Ok(Err(NO_END));
            }
            if l.starts_with(&END64_LOCATOR_SIG) && u32le(&l, 4) == 0 && u32le(&l, 16) == 1 {
                // Go's int64: a "negative" offset means no zip64 record, not an error.
                let p = u64le(&l, 8) as i64;
                if p >= 0 {
                    let e = read_at(f, p as u64, 56)?;
                    if e.len() < 56 {
                        return Ok(Err("the zip64 end record is past the end of the file"));
                    }
                    if !e.starts_with(&END64_SIG) {
                        return Ok(Err("no zip64 end record where its locator points"));
                    }
                    end_offset = p;
                    records = u64le(&e, 32);
                    dir_size = u64le(&e, 40);
                    dir_offset = u64le(&e, 48);
                }
            }
        }
    }
    if dir_size > i64::MAX as u64 || dir_offset > i64::MAX as u64 {
        return Ok(Err(NO_END));
    }
    let mut base = end_offset
        .wrapping_sub(dir_size as i64)
        .wrapping_sub(dir_offset as i64);
    let start = base.wrapping_add(dir_offset as i64);
    if start < 0 || start as u64 >= size {
        return Ok(Err(
            "the end record puts the central directory outside the file",
        ));
    }
    // Go drops a positive base if a whole central-directory header parses at the raw offset.
    if base > 0 && dir_offset < size {
        let mut r = BufReader::new(f);
        r.seek(SeekFrom::Start(dir_offset))?;
        if let Header::Entry(..) =
            read_header(&mut (&mut r).take(size.saturating_sub(dir_offset)), 0)?
        {
            base = 0;
        }
    }
    Ok(Ok(Directory {
        start: base.wrapping_add(dir_offset as i64) as u64,
        base,
        records,
    }))
}

/// Go's `readDirectoryHeader`.
fn read_header(r: &mut impl Read, central: u64) -> io::Result<Header> {
    let mut h = [0u8; CENTRAL_LEN];
    match read_full(r, &mut h)? {
        0 => return Ok(Header::Eof),
        CENTRAL_LEN => {}
        _ => return Ok(Header::End),
    }
    if !h.starts_with(&CENTRAL_SIG) {
        return Ok(Header::End);
    }
    let csize32 = u32le(&h, 20);
    let usize32 = u32le(&h, 24);
    let name_len = usize::from(u16le(&h, 28));
    let extra_len = usize::from(u16le(&h, 30));
    let comment_len = usize::from(u16le(&h, 32));
    let offset32 = u32le(&h, 42);
    let mut d = vec![
        0u8;
        name_len
            .saturating_add(extra_len)
            .saturating_add(comment_len)
    ];
    if !d.is_empty() {
        match read_full(r, &mut d)? {
            0 => return Ok(Header::Eof),
            n if n < d.len() => return Ok(Header::End),
            _ => {}
        }
    }
    let extra_end = name_len.saturating_add(extra_len);
    let mut e = Entry {
        central,
        name: d.get(..name_len).unwrap_or_default().to_vec(),
        creator: u16le(&h, 4),
        flags: u16le(&h, 8),
        method: u16le(&h, 10),
        crc32: u32le(&h, 16),
        compressed: u64::from(csize32),
        uncompressed: u64::from(usize32),
        external: u32le(&h, 38),
        header_offset: i64::from(offset32),
        extras: Extras::default(),
    };
    let mut need_u = usize32 == u32::MAX;
    let mut need_c = csize32 == u32::MAX;
    let mut need_off = offset32 == u32::MAX;
    let mut extra = d.get(name_len..extra_end).unwrap_or_default();
    while extra.len() >= 4 {
        let tag = u16le(extra, 0);
        let size = usize::from(u16le(extra, 2));
        let Some(mut field) = extra.get(4..4 + size) else {
            e.extras.overrun = Some(tag);
            break; // Go ignores the rest
        };
        extra = extra.get(4 + size..).unwrap_or_default();
        match tag {
            ZIP64_EXTRA => {
                e.extras.zip64 = e.extras.zip64.saturating_add(1);
                // Each saturated field takes the next 8 bytes of the first block; a later block
                // finds nothing left to fill (golang.org/issue/13367).
                for (need, slot) in [
                    (&mut need_u, Slot::Uncompressed),
                    (&mut need_c, Slot::Compressed),
                    (&mut need_off, Slot::Offset),
                ] {
                    if !*need {
                        continue;
                    }
                    *need = false;
                    let Some(v) = field.get(..8) else {
                        return Ok(Header::End); // ErrFormat
                    };
                    let v = u64le(v, 0);
                    field = field.get(8..).unwrap_or_default();
                    match slot {
                        Slot::Uncompressed => e.uncompressed = v,
                        Slot::Compressed => e.compressed = v,
                        Slot::Offset => e.header_offset = v as i64,
                    }
                }
            }
            UNICODE_PATH | UNICODE_COMMENT => {
                e.extras.unicode.get_or_insert(tag);
            }
            _ => {}
        }
    }
    // An uncompressed size of 2³²-1 without zip64 is taken as is (Go's 42.zip rule).
    if need_c || need_off {
        return Ok(Header::End); // ErrFormat
    }
    Ok(Header::Entry(e, CENTRAL_LEN.saturating_add(d.len()) as u64))
}

enum Slot {
    Uncompressed,
    Compressed,
    Offset,
}

/// The extra fields of a local header, read as [`read_header`] reads central ones (Go ignores
/// local extra fields; they are read only to refuse what other readers would apply).
fn scan_extras(mut extra: &[u8]) -> Extras {
    let mut x = Extras::default();
    while extra.len() >= 4 {
        let tag = u16le(extra, 0);
        let size = usize::from(u16le(extra, 2));
        if extra.len() < 4 + size {
            x.overrun = Some(tag);
            break;
        }
        extra = extra.get(4 + size..).unwrap_or_default();
        match tag {
            ZIP64_EXTRA => x.zip64 = x.zip64.saturating_add(1),
            UNICODE_PATH | UNICODE_COMMENT => {
                x.unicode.get_or_insert(tag);
            }
            _ => {}
        }
    }
    x
}

/// Go's `Reader.init` loop: central-directory headers from the directory start until one fails
/// to parse, whatever the end record's count says.
pub(super) struct Walk<'f> {
    r: BufReader<&'f File>,
    pos: u64,
    base: i64,
    records: u64,
    count: u64,
    done: bool,
}

impl<'f> Walk<'f> {
    pub(super) fn new(f: &'f File, dir: &Directory) -> io::Result<Walk<'f>> {
        let mut r = BufReader::new(f);
        r.seek(SeekFrom::Start(dir.start))?;
        Ok(Walk {
            r,
            pos: dir.start,
            base: dir.base,
            records: dir.records,
            count: 0,
            done: false,
        })
    }

    /// The next entry Go lists; `Ok(Err(_))` if Go's `NewReader` would fail.
    pub(super) fn next(&mut self) -> io::Result<Result<Option<Entry>, Unreadable>> {
        if self.done {
            return Ok(Ok(None));
        }
        match read_header(&mut self.r, self.pos)? {
            Header::Entry(mut e, len) => {
                // read_header consumed exactly the header: the reader is at the next one.
                self.pos = self.pos.saturating_add(len);
                e.header_offset = e.header_offset.wrapping_add(self.base);
                self.count = self.count.saturating_add(1);
                Ok(Ok(Some(e)))
            }
            Header::End => {
                self.done = true;
                if self.count & 0xffff != self.records & 0xffff {
                    return Ok(Err(
                        "its central directory has fewer headers than the end record declares",
                    ));
                }
                Ok(Ok(None))
            }
            Header::Eof => {
                self.done = true;
                Ok(Err("its central directory runs to the end of the file"))
            }
        }
    }
}

/// Where Go finds an entry's data (`findBodyOffset`), and the local header's extra fields.
#[derive(Debug)]
pub(super) struct Local {
    /// `headerOffset + 30 + name length + extra length`, from the local header.
    pub(super) data_offset: u64,
    pub(super) extras: Extras,
}

/// Go's `findBodyOffset` (which `File.Open` runs for every entry, directories too).
pub(super) fn read_local(f: &File, header_offset: i64) -> io::Result<Result<Local, &'static str>> {
    if header_offset < 0 {
        return Ok(Err("its local header offset is negative"));
    }
    let h = read_at(f, header_offset as u64, LOCAL_LEN)?;
    if h.len() < LOCAL_LEN {
        return Ok(Err("its local header is past the end of the file"));
    }
    if !h.starts_with(&LOCAL_SIG) {
        return Ok(Err("no local header signature at its local header offset"));
    }
    let name_len = u16le(&h, 26);
    let extra_len = u16le(&h, 28);
    let body = (LOCAL_LEN as i64)
        .saturating_add(i64::from(name_len))
        .saturating_add(i64::from(extra_len));
    let data_offset = header_offset.wrapping_add(body);
    if data_offset < 0 {
        return Ok(Err("its data offset overflows"));
    }
    let extra_at = (header_offset as u64)
        .saturating_add(LOCAL_LEN as u64)
        .saturating_add(u64::from(name_len));
    let extra = read_at(f, extra_at, usize::from(extra_len))?;
    Ok(Ok(Local {
        data_offset: data_offset as u64,
        extras: scan_extras(&extra),
    }))
}

/// What Go's `File.Open` yields for a file entry (store or deflate), hashed with SHA-256.
///
/// The compressed data is `compressed` bytes from `data_offset`. The output must be exactly the
/// declared size (never more than one byte past it is produced, as x/mod `Unzip`'s
/// `LimitedReader`), a deflate stream must reach its final block within the data (Go's flate
/// fails with `ErrUnexpectedEOF` otherwise), a data descriptor must be there with the central
/// CRC (`readDataDescriptor`), and the CRC-32 must match — always, where Go skips a zero CRC.
pub(super) fn hash_data(f: &File, e: &Entry, data_offset: u64) -> Result<[u8; 32], ContentError> {
    let declared = e.uncompressed;
    // Go reads the data through an int64-sized section: a "negative" size reads nothing.
    if e.compressed > i64::MAX as u64 {
        return Err(ContentError::Read(io::Error::new(
            io::ErrorKind::InvalidData,
            "compressed size is larger than Go's archive/zip can read",
        )));
    }
    let mut r = f;
    r.seek(SeekFrom::Start(data_offset))
        .map_err(ContentError::Read)?;
    let mut input = BufReader::with_capacity(64 * 1024, r).take(e.compressed);
    let mut sha = Sha256::new();
    let mut crc = crc32fast::Hasher::new();
    let mut got: u64 = 0;
    let mut out = vec![0u8; 64 * 1024];
    let mut emit = |chunk: &[u8]| -> Result<(), ContentError> {
        got = got.saturating_add(chunk.len() as u64);
        if got > declared {
            return Err(ContentError::Larger { declared });
        }
        sha.update(chunk);
        crc.update(chunk);
        Ok(())
    };
    match e.method {
        0 => loop {
            let n = match input.read(&mut out) {
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(ContentError::Read(err)),
            };
            if n == 0 {
                break;
            }
            emit(out.get(..n).unwrap_or_default())?;
        },
        8 => {
            let mut z = flate2::Decompress::new(false);
            loop {
                let buf = input.fill_buf().map_err(ContentError::Read)?;
                let at_eof = buf.is_empty();
                let (in_before, out_before) = (z.total_in(), z.total_out());
                let status = z
                    .decompress(buf, &mut out, flate2::FlushDecompress::None)
                    .map_err(|err| {
                        ContentError::Read(io::Error::new(io::ErrorKind::InvalidData, err))
                    })?;
                let used =
                    usize::try_from(z.total_in().saturating_sub(in_before)).unwrap_or(usize::MAX);
                let made =
                    usize::try_from(z.total_out().saturating_sub(out_before)).unwrap_or(usize::MAX);
                input.consume(used);
                emit(out.get(..made).unwrap_or_default())?;
                if status == flate2::Status::StreamEnd {
                    break;
                }
                if made == 0 && at_eof {
                    return Err(ContentError::Read(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "deflate stream ends before its final block",
                    )));
                }
                if made == 0 && used == 0 {
                    return Err(ContentError::Read(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "deflate stream makes no progress",
                    )));
                }
            }
        }
        _ => {
            return Err(ContentError::Read(io::Error::other(
                "unsupported compression method",
            )));
        }
    }
    if got < declared {
        return Err(ContentError::Smaller {
            declared,
            actual: got,
        });
    }
    if e.flags & 0x8 != 0 {
        let at = data_offset
            .checked_add(e.compressed)
            .filter(|&a| a <= i64::MAX as u64);
        let desc = match at {
            Some(at) => read_at(f, at, 16).map_err(ContentError::Read)?,
            None => Vec::new(),
        };
        let stored = match desc.get(..4) {
            Some(sig) if sig == DESCRIPTOR_SIG && desc.len() >= 16 => Some(u32le(&desc, 4)),
            Some(sig) if sig != DESCRIPTOR_SIG && desc.len() >= 12 => Some(u32le(&desc, 0)),
            _ => None,
        };
        match stored {
            None => {
                return Err(ContentError::Read(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "data descriptor is missing",
                )));
            }
            Some(c) if c != e.crc32 => return Err(ContentError::Checksum),
            Some(_) => {}
        }
    }
    if crc.finalize() != e.crc32 {
        return Err(ContentError::Checksum);
    }
    Ok(sha.finalize().into())
}
