//! Differential tests of the module-zip verifier against the real Go implementation (issue 10
//! §6): for every zip, goward refuses it, or Go's x/mod `CheckZip` accepts it, Go's
//! `dirhash.HashZip` gives the same `h1:`, Go's archive/zip yields the same entries with the same
//! content, and x/mod `Unzip` writes the same files.
//!
//! Go's view comes from `testdata/xmod/zip/gen/zipview`, built once per test run with the
//! golang.org/x/mod version pinned by its go.sum (downloaded through `$GOPROXY`, by default
//! proxy.golang.org, into a module cache under Cargo's target tmp dir). The zips are written by a
//! raw writer that can produce what real writers refuse to: named cases for each class of
//! ambiguity (zip64 variants, extra fields, conflicting local and central headers, data
//! descriptors, comments, prepended data, bad names), and seeded byte mutations of valid zips.
//! A zip on which the two disagree is kept under `target/tmp/zipdiff-failures/`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use goward::zip::{HashedEntry, ZipLimits, check_zip_path_listing};
use serde::Deserialize;

use crate::support::fakeproxy::{FakeProxy, Fault};
use crate::support::gocmd::GoEnv;
use crate::support::modzip::{ModZip, noise};
use crate::support::testlog::TestLog;
use crate::support::{Goward, files_containing, files_under};

const M: &str = "example.com/m";
const V: &str = "v1.0.0";
const P: &str = "example.com/m@v1.0.0/";

/// Builds the Go helper once per test run.
fn zipview() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/xmod/zip/gen/zipview");
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let out = tmp
            .join("zipview-bin")
            .join(format!("zipview{}", std::env::consts::EXE_SUFFIX));
        let proxy = std::env::var("GOPROXY")
            .ok()
            .filter(|p| !p.is_empty() && p != "off")
            .unwrap_or_else(|| "https://proxy.golang.org".to_owned());
        // go.sum pins golang.org/x/mod, so no checksum database is consulted.
        let mut env = GoEnv::new(&proxy, "off");
        env.set_env(
            "GOMODCACHE",
            &tmp.join("zipview-gomodcache").display().to_string(),
        );
        let (src, out_s) = (src.display().to_string(), out.display().to_string());
        env.go(&["-C", &src, "build", "-o", &out_s, "."])
            .assert_success();
        out
    })
}

/// One entry of Go's reading (names and digests in hex).
#[derive(Debug, Deserialize, PartialEq, Eq)]
struct GoFile {
    name: String,
    size: u64,
    sha256: String,
    #[serde(default)]
    err: String,
}

/// zipview's JSON line for one zip.
#[derive(Debug, Deserialize)]
struct GoView {
    zip: String,
    check: String,
    h1: String,
    h1_err: String,
    open_err: String,
    files: Option<Vec<GoFile>>,
    unzip: String,
    extracted: Vec<GoFile>,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

fn crc32(data: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(data);
    c.sum()
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut w = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    w.write_all(data).unwrap();
    w.finish().unwrap()
}

/// One extra field.
fn field(id: u16, data: &[u8]) -> Vec<u8> {
    let mut v = id.to_le_bytes().to_vec();
    v.extend_from_slice(&(data.len() as u16).to_le_bytes());
    v.extend_from_slice(data);
    v
}

/// An Info-ZIP Unicode Path/Comment field holding `text` for the stored `name`.
fn unicode(id: u16, name: &[u8], text: &[u8]) -> Vec<u8> {
    let mut d = vec![1u8];
    d.extend_from_slice(&crc32(name).to_le_bytes());
    d.extend_from_slice(text);
    field(id, &d)
}

/// `prefix` plus 4 bytes making its CRC-32 `target` (CRC-32 is affine over GF(2)).
fn forge_crc(prefix: &[u8], target: u32) -> Vec<u8> {
    let f = |x: u32| {
        let mut d = prefix.to_vec();
        d.extend_from_slice(&x.to_le_bytes());
        crc32(&d)
    };
    let f0 = f(0);
    let mut basis: [Option<(u32, u32)>; 32] = [None; 32];
    for i in 0..32 {
        let (mut v, mut c) = (f(1 << i) ^ f0, 1u32 << i);
        for bit in (0..32).rev() {
            if v >> bit & 1 == 0 {
                continue;
            }
            match basis[bit] {
                Some((bv, bc)) => (v, c) = (v ^ bv, c ^ bc),
                None => {
                    basis[bit] = Some((v, c));
                    break;
                }
            }
        }
    }
    let (mut want, mut x) = (target ^ f0, 0u32);
    for bit in (0..32).rev() {
        if want >> bit & 1 == 1 {
            let (bv, bc) = basis[bit].unwrap();
            (want, x) = (want ^ bv, x ^ bc);
        }
    }
    let mut d = prefix.to_vec();
    d.extend_from_slice(&x.to_le_bytes());
    assert_eq!(crc32(&d), target);
    d
}

#[derive(Clone, Copy, PartialEq)]
enum Desc {
    None,
    WithSig,
    NoSig,
}

/// One entry, with every header field that a writer could get wrong.
#[derive(Clone)]
struct E {
    name: Vec<u8>,
    local_name: Option<Vec<u8>>,
    data: Vec<u8>,
    method: u16,
    /// Replaces the compressed bytes.
    payload: Option<Vec<u8>>,
    crc: Option<u32>,
    local_crc: Option<u32>,
    local_method: Option<u16>,
    local_flags: Option<u16>,
    central_flags: Option<u16>,
    usize: Option<u64>,
    csize: Option<u64>,
    flags: u16,
    desc: Desc,
    desc_crc: Option<u32>,
    /// Zip64 sizes (and offset) in the central header, with a zip64 block in both headers.
    zip64: bool,
    zip64_offset: bool,
    central_extra: Vec<u8>,
    local_extra: Vec<u8>,
    offset: Option<u32>,
    unlisted: bool,
    creator: u16,
    external: u32,
}

fn e(name: &str, data: &[u8]) -> E {
    E {
        name: format!("{P}{name}").into_bytes(),
        local_name: None,
        data: data.to_vec(),
        method: 8,
        payload: None,
        crc: None,
        local_crc: None,
        local_method: None,
        local_flags: None,
        central_flags: None,
        usize: None,
        csize: None,
        flags: 0,
        desc: Desc::None,
        desc_crc: None,
        zip64: false,
        zip64_offset: false,
        central_extra: Vec::new(),
        local_extra: Vec::new(),
        offset: None,
        unlisted: false,
        creator: 20,
        external: 0,
    }
}

/// A whole archive.
#[derive(Clone)]
struct Z {
    entries: Vec<E>,
    prepend: Vec<u8>,
    /// Offsets count from the start of the file rather than of the zip proper.
    absolute: bool,
    comment: Vec<u8>,
    zip64_end: bool,
    count: Option<u16>,
    cd_offset_delta: i64,
    trailing: Vec<u8>,
    /// Bytes built by hand: used as they are.
    raw: Option<Vec<u8>>,
}

fn z(entries: Vec<E>) -> Z {
    Z {
        entries,
        prepend: Vec::new(),
        absolute: false,
        comment: Vec::new(),
        zip64_end: false,
        count: None,
        cd_offset_delta: 0,
        trailing: Vec::new(),
        raw: None,
    }
}

fn build(z: &Z) -> Vec<u8> {
    if let Some(raw) = &z.raw {
        return raw.clone();
    }
    let mut out = z.prepend.clone();
    let base = if z.absolute {
        0
    } else {
        z.prepend.len() as u64
    };
    let mut central = Vec::new();
    let mut listed = 0u64;
    for e in &z.entries {
        let offset = out.len() as u64 - base;
        let payload = e.payload.clone().unwrap_or_else(|| match e.method {
            8 => deflate(&e.data),
            _ => e.data.clone(),
        });
        let crc = e.crc.unwrap_or_else(|| crc32(&e.data));
        let usz = e.usize.unwrap_or(e.data.len() as u64);
        let csz = e.csize.unwrap_or(payload.len() as u64);
        let flags = e.flags | if e.desc == Desc::None { 0 } else { 8 };
        let (u32s, c32s) = if e.zip64 {
            (u32::MAX, u32::MAX)
        } else {
            (usz as u32, csz as u32)
        };
        let mut local_extra = Vec::new();
        let mut central_extra = Vec::new();
        if e.zip64 {
            let mut v = usz.to_le_bytes().to_vec();
            v.extend_from_slice(&csz.to_le_bytes());
            local_extra = field(1, &v);
            if e.zip64_offset {
                v.extend_from_slice(&offset.to_le_bytes());
            }
            central_extra = field(1, &v);
        }
        local_extra.extend_from_slice(&e.local_extra);
        central_extra.extend_from_slice(&e.central_extra);
        let local_name = e.local_name.as_ref().unwrap_or(&e.name);
        let needed: u16 = if e.zip64 { 45 } else { 20 };
        out.extend_from_slice(b"PK\x03\x04");
        out.extend_from_slice(&needed.to_le_bytes());
        out.extend_from_slice(&e.local_flags.unwrap_or(flags).to_le_bytes());
        out.extend_from_slice(&e.local_method.unwrap_or(e.method).to_le_bytes());
        out.extend_from_slice(&[0, 0, 0x21, 0]);
        if e.desc == Desc::None {
            out.extend_from_slice(&e.local_crc.unwrap_or(crc).to_le_bytes());
            out.extend_from_slice(&c32s.to_le_bytes());
            out.extend_from_slice(&u32s.to_le_bytes());
        } else {
            out.extend_from_slice(&[0; 12]);
        }
        out.extend_from_slice(&(local_name.len() as u16).to_le_bytes());
        out.extend_from_slice(&(local_extra.len() as u16).to_le_bytes());
        out.extend_from_slice(local_name);
        out.extend_from_slice(&local_extra);
        out.extend_from_slice(&payload);
        if e.desc != Desc::None {
            if e.desc == Desc::WithSig {
                out.extend_from_slice(b"PK\x07\x08");
            }
            out.extend_from_slice(&e.desc_crc.unwrap_or(crc).to_le_bytes());
            out.extend_from_slice(&c32s.to_le_bytes());
            out.extend_from_slice(&u32s.to_le_bytes());
        }
        if e.unlisted {
            continue;
        }
        listed += 1;
        let off32 = if e.zip64_offset {
            u32::MAX
        } else {
            e.offset.unwrap_or(offset as u32)
        };
        central.extend_from_slice(b"PK\x01\x02");
        central.extend_from_slice(&(e.creator << 8 | 20).to_le_bytes());
        central.extend_from_slice(&needed.to_le_bytes());
        central.extend_from_slice(&e.central_flags.unwrap_or(flags).to_le_bytes());
        central.extend_from_slice(&e.method.to_le_bytes());
        central.extend_from_slice(&[0, 0, 0x21, 0]);
        central.extend_from_slice(&crc.to_le_bytes());
        central.extend_from_slice(&c32s.to_le_bytes());
        central.extend_from_slice(&u32s.to_le_bytes());
        central.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
        central.extend_from_slice(&(central_extra.len() as u16).to_le_bytes());
        central.extend_from_slice(&[0; 6]); // comment length, disk, internal attributes
        central.extend_from_slice(&e.external.to_le_bytes());
        central.extend_from_slice(&off32.to_le_bytes());
        central.extend_from_slice(&e.name);
        central.extend_from_slice(&central_extra);
    }
    let cd_offset = (out.len() as u64 - base).wrapping_add_signed(z.cd_offset_delta);
    out.extend_from_slice(&central);
    let count = z.count.map_or(listed, u64::from);
    if z.zip64_end {
        let end64 = out.len() as u64 - base;
        out.extend_from_slice(b"PK\x06\x06");
        out.extend_from_slice(&44u64.to_le_bytes());
        out.extend_from_slice(&[45, 0, 45, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&(central.len() as u64).to_le_bytes());
        out.extend_from_slice(&cd_offset.to_le_bytes());
        out.extend_from_slice(b"PK\x06\x07");
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&end64.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
    }
    out.extend_from_slice(b"PK\x05\x06");
    out.extend_from_slice(&[0; 4]);
    let (count16, size32, off32) = if z.zip64_end {
        (0xffff, u32::MAX, u32::MAX)
    } else {
        (count as u16, central.len() as u32, cd_offset as u32)
    };
    out.extend_from_slice(&count16.to_le_bytes());
    out.extend_from_slice(&count16.to_le_bytes());
    out.extend_from_slice(&size32.to_le_bytes());
    out.extend_from_slice(&off32.to_le_bytes());
    out.extend_from_slice(&(z.comment.len() as u16).to_le_bytes());
    out.extend_from_slice(&z.comment);
    out.extend_from_slice(&z.trailing);
    out
}

const GO_MOD: &[u8] = b"module example.com/m\n\ngo 1.21\n";

/// The files of a valid module.
fn files() -> Vec<E> {
    vec![
        e("go.mod", GO_MOD),
        e("m.go", b"package m\n\nconst Answer = 42\n"),
        e("sub/b.go", &noise(1, 300)),
        e("LICENSE", &b"Permission is granted. ".repeat(40)),
    ]
}

fn with(f: impl FnOnce(&mut Vec<E>)) -> Z {
    let mut v = files();
    f(&mut v);
    z(v)
}

/// The entry `m.go` of [`files`].
fn m_go(v: &mut [E]) -> &mut E {
    &mut v[1]
}

/// Two local headers for `m.go` with the same CRC, and a central header whose saturated offset
/// two zip64 blocks give, the first pointing at `evil`.
const HONEST_M_GO: &[u8] = b"package m\n\nconst Answer = 42 // honest\n";

fn two_zip64_offsets(evil_first: bool) -> Z {
    let honest = HONEST_M_GO.to_vec();
    let mut evil = b"package m\n\nfunc init() { panic(0) }".to_vec();
    evil.resize(honest.len() - 4, b' ');
    let evil = forge_crc(&evil, crc32(&honest));
    let name = format!("{P}m.go");
    let mut ev = e("m.go", &evil);
    ev.method = 0;
    ev.unlisted = true;
    let mut h = e("m.go", &honest);
    h.method = 0;
    h.offset = Some(u32::MAX);
    let at_honest = (30 + name.len() + evil.len()) as u64;
    let (a, b) = if evil_first {
        (0, at_honest)
    } else {
        (at_honest, 0)
    };
    h.central_extra = field(1, &u64::to_le_bytes(a));
    h.central_extra
        .extend_from_slice(&field(1, &u64::to_le_bytes(b)));
    let mut v = files();
    v.retain(|f| !f.name.ends_with(b"m.go"));
    let mut all = vec![ev, h];
    all.extend(v);
    z(all)
}

/// The named cases: each class of ambiguity and malformation.
fn cases() -> Vec<(String, Vec<u8>)> {
    let mut c: Vec<(&str, Z)> = vec![
        ("valid", z(files())),
        ("stored", with(|v| v.iter_mut().for_each(|f| f.method = 0))),
        (
            "descriptors",
            with(|v| v.iter_mut().for_each(|f| f.desc = Desc::WithSig)),
        ),
        (
            "descriptors without signature",
            with(|v| v.iter_mut().for_each(|f| f.desc = Desc::NoSig)),
        ),
        (
            "descriptor with another CRC",
            with(|v| {
                m_go(v).desc = Desc::WithSig;
                m_go(v).desc_crc = Some(1);
            }),
        ),
        (
            "directory entries",
            with(|v| {
                v.push(e("sub/", b""));
                v.push(z_dir(P));
            }),
        ),
        (
            "directory entry with compressed bytes",
            with(|v| {
                let mut d = e("d/", b"");
                d.payload = Some(vec![3, 0]);
                v.push(d);
            }),
        ),
        ("comment", {
            let mut z = z(files());
            z.comment = b"a comment".to_vec();
            z
        }),
        ("comment holding an end record", {
            let mut z = z(files());
            z.comment = b"PK\x05\x06 not really".to_vec();
            z
        }),
        ("truncated comment", {
            let mut z = z(files());
            z.comment = b"comment".to_vec();
            let mut b = build(&z);
            b.truncate(b.len() - 3);
            return_bytes(b)
        }),
        ("prepended data", {
            let mut z = z(files());
            z.prepend = b"#!/bin/sh\nexit 0\n".to_vec();
            z
        }),
        ("prepended data, absolute offsets", {
            let mut z = z(files());
            z.prepend = b"#!/bin/sh\nexit 0\n".to_vec();
            z.absolute = true;
            z
        }),
        (
            "zip64 sizes",
            with(|v| v.iter_mut().for_each(|f| f.zip64 = true)),
        ),
        (
            "zip64 sizes and offsets",
            with(|v| {
                v.iter_mut().for_each(|f| {
                    f.zip64 = true;
                    f.zip64_offset = true;
                })
            }),
        ),
        ("zip64 end record", {
            let mut z = z(files());
            z.zip64_end = true;
            z
        }),
        ("zip64 everything", {
            let mut z = with(|v| {
                v.iter_mut().for_each(|f| {
                    f.zip64 = true;
                    f.zip64_offset = true;
                })
            });
            z.zip64_end = true;
            z
        }),
        ("two zip64 blocks, evil first", two_zip64_offsets(true)),
        ("two zip64 blocks, honest first", two_zip64_offsets(false)),
        (
            "two equal zip64 blocks",
            with(|v| {
                let f = m_go(v);
                f.zip64 = true;
                let again = {
                    let mut d = (f.data.len() as u64).to_le_bytes().to_vec();
                    d.extend_from_slice(&(deflate(&f.data).len() as u64).to_le_bytes());
                    field(1, &d)
                };
                f.central_extra = again;
            }),
        ),
        (
            "zip64 block not needed",
            with(|v| m_go(v).central_extra = field(1, &[0xff; 24])),
        ),
        (
            "zip64 block too short",
            with(|v| {
                let f = m_go(v);
                f.method = 0;
                f.offset = Some(u32::MAX);
                f.central_extra = field(1, &[0; 4]);
            }),
        ),
        (
            "zip64 block in the local header only",
            with(|v| m_go(v).local_extra = field(1, &[0; 16])),
        ),
        (
            "two zip64 blocks in the local header",
            with(|v| m_go(v).local_extra = field(1, &[0; 16]).repeat(2)),
        ),
        (
            "unicode path to ../evil.go",
            unicode_case("../evil.go", "evil.go", 0x7075, false),
        ),
        (
            "unicode path hiding a nested go.mod",
            unicode_case("sub/go.mod", "sub/x.go", 0x7075, false),
        ),
        (
            "unicode path with a wrong CRC",
            with(|v| {
                let f = m_go(v);
                f.central_extra = unicode(0x7075, b"other", format!("{P}n.go").as_bytes());
            }),
        ),
        (
            "unicode path in the local header",
            unicode_case("m.go", "n.go", 0x7075, true),
        ),
        (
            "unicode comment",
            unicode_case("m.go", "m.go", 0x6375, false),
        ),
        (
            "unknown extra fields",
            with(|v| {
                let f = m_go(v);
                f.central_extra = field(0xcafe, b"hello");
                f.central_extra
                    .extend_from_slice(&field(0x5455, &[1, 0, 0, 0, 0]));
                f.local_extra = field(0x000a, &[0; 32]);
            }),
        ),
        (
            "extra field overrunning",
            with(|v| {
                let mut x = field(0xcafe, b"hello");
                x[2] = 50;
                m_go(v).central_extra = x;
            }),
        ),
        (
            "extra field overrunning, zip64 after it",
            with(|v| {
                let f = m_go(v);
                f.method = 0;
                let mut x = field(0xcafe, b"hi");
                x[2] = 9;
                x.extend_from_slice(&field(1, &[0; 8]));
                f.central_extra = x;
            }),
        ),
        (
            "extra data with trailing bytes",
            with(|v| m_go(v).central_extra = vec![1, 2, 3]),
        ),
        (
            "local extra overrunning",
            with(|v| {
                let mut x = field(0xcafe, b"hello");
                x[2] = 50;
                m_go(v).local_extra = x;
            }),
        ),
        (
            "local name differs",
            with(|v| m_go(v).local_name = Some(format!("{P}evil.go").into_bytes())),
        ),
        ("local CRC differs", with(|v| m_go(v).local_crc = Some(7))),
        (
            "local method differs",
            with(|v| m_go(v).local_method = Some(0)),
        ),
        (
            "local header says a descriptor follows",
            with(|v| m_go(v).local_flags = Some(8)),
        ),
        (
            "descriptor only in the local header's flags",
            with(|v| {
                let f = m_go(v);
                f.desc = Desc::WithSig;
                f.central_flags = Some(0);
            }),
        ),
        (
            "smuggled local header",
            with(|v| {
                let mut s = e("evil.go", b"package evil\n");
                s.unlisted = true;
                v.insert(1, s);
            }),
        ),
        ("two names, one local header", {
            let mut z = z(files());
            let mut b = z.entries[1].clone();
            b.name = format!("{P}n.go").into_bytes();
            b.unlisted = false;
            z.entries.push(b);
            let built = build(&z);
            // Point the last central header at m.go's local header.
            let first = z_offset_of(&built, 1);
            return_bytes(set_last_central_offset(built, first))
        }),
        (
            "duplicate file",
            with(|v| v.push(e("m.go", b"package m // again\n"))),
        ),
        (
            "case collision",
            with(|v| v.push(e("M.go", b"package m\n"))),
        ),
        ("dot-dot name", with(|v| v.push(e("../x.go", b"x")))),
        (
            "absolute name",
            with(|v| {
                v.push({
                    let mut f = e("x", b"x");
                    f.name = b"/etc/x".to_vec();
                    f
                })
            }),
        ),
        ("backslash name", with(|v| v.push(e("a\\b.go", b"x")))),
        (
            "nested go.mod",
            with(|v| v.push(e("sub/go.mod", b"module x\n"))),
        ),
        (
            "bare prefix as a file",
            with(|v| {
                v.push({
                    let mut f = e("", b"x");
                    f.name = P.trim_end_matches('/').as_bytes().to_vec();
                    f
                })
            }),
        ),
        (
            "non-UTF-8 name",
            with(|v| {
                v.push({
                    let mut f = e("", b"x");
                    f.name.extend_from_slice(b"\xff.go");
                    f
                })
            }),
        ),
        ("fewer entries declared", {
            let mut z = z(files());
            z.count = Some(3);
            z
        }),
        ("more entries declared", {
            let mut z = z(files());
            z.count = Some(5);
            z
        }),
        ("central directory offset off by one", {
            let mut z = z(files());
            z.cd_offset_delta = 1;
            z
        }),
        ("central directory offset past the end", {
            let mut z = z(files());
            z.cd_offset_delta = 1 << 20;
            z
        }),
        ("declared size too small", with(|v| m_go(v).usize = Some(5))),
        (
            "declared size too large",
            with(|v| m_go(v).usize = Some(500)),
        ),
        (
            "compressed size too small",
            with(|v| m_go(v).csize = Some(3)),
        ),
        (
            "compressed size too large",
            with(|v| m_go(v).csize = Some(40)),
        ),
        (
            "stored compressed size too large",
            with(|v| {
                let f = m_go(v);
                f.method = 0;
                f.csize = Some(f.data.len() as u64 + 8);
            }),
        ),
        ("wrong CRC", with(|v| m_go(v).crc = Some(1))),
        ("zero CRC", with(|v| m_go(v).crc = Some(0))),
        (
            "size 0xffffffff without zip64",
            with(|v| m_go(v).usize = Some(u32::MAX as u64)),
        ),
        (
            "deflate stream without its final block",
            with(|v| {
                let f = m_go(v);
                let mut p = vec![0u8];
                p.extend_from_slice(&(f.data.len() as u16).to_le_bytes());
                p.extend_from_slice(&(!(f.data.len() as u16)).to_le_bytes());
                p.extend_from_slice(&f.data);
                f.payload = Some(p);
            }),
        ),
        (
            "deflate stream with trailing bytes",
            with(|v| {
                let f = m_go(v);
                let mut p = deflate(&f.data);
                p.extend_from_slice(b"trailing garbage");
                f.payload = Some(p);
            }),
        ),
        (
            "corrupt deflate stream",
            with(|v| m_go(v).payload = Some(vec![0xff; 20])),
        ),
        ("bzip2 method", with(|v| m_go(v).method = 12)),
        ("encrypted flag", with(|v| m_go(v).flags = 1)),
        ("UTF-8 flag", with(|v| m_go(v).flags = 0x800)),
        (
            "symlink mode",
            with(|v| {
                let f = m_go(v);
                f.creator = 3;
                f.external = 0o120777 << 16;
            }),
        ),
        (
            "directory attribute on a file",
            with(|v| m_go(v).external = 0x10),
        ),
        ("local header missing", with(|v| m_go(v).offset = Some(1))),
        (
            "local header past the end",
            with(|v| m_go(v).offset = Some(1 << 30)),
        ),
        ("empty archive", z(Vec::new())),
        ("trailing bytes after the end record", {
            let mut z = z(files());
            z.trailing = vec![0; 3];
            z
        }),
    ];
    // A zip64 locator whose offset is negative as an int64: Go ignores the zip64 records.
    let mut b = build(&Z {
        zip64_end: true,
        ..z(files())
    });
    let at = b.windows(4).rposition(|w| w == b"PK\x06\x07").unwrap();
    b[at + 8..at + 16].copy_from_slice(&u64::MAX.to_le_bytes());
    c.push(("zip64 locator at a negative offset", return_bytes(b)));
    // A compressed size with the top bit set: a negative section in Go, which reads nothing.
    c.push((
        "compressed size with the top bit set",
        with(|v| {
            let mut f = e("empty.go", b"");
            f.method = 0;
            f.zip64 = true;
            f.csize = Some(1 << 63);
            v.push(f);
        }),
    ));
    // A hidden archive behind a multi-disk end record in the comment (Go reads the last record).
    let mut hidden = build(&z(vec![e("evil.go", b"package evil\n")]));
    let h = hidden.len() - 22;
    hidden[h + 4] = 1;
    let mut shown = z(files());
    shown.comment = hidden;
    c.push(("hidden archive in the comment", shown));
    c.into_iter()
        .map(|(n, z)| (n.to_owned(), build(&z)))
        .collect()
}

/// A directory entry named exactly `name`.
fn z_dir(name: &str) -> E {
    let mut d = e("", b"");
    d.name = name.as_bytes().to_vec();
    d
}

/// A case whose bytes are already built.
fn return_bytes(b: Vec<u8>) -> Z {
    Z {
        raw: Some(b),
        ..z(Vec::new())
    }
}

fn unicode_case(stored: &str, shown: &str, id: u16, local: bool) -> Z {
    with(|v| {
        let f = m_go(v);
        f.name = format!("{P}{stored}").into_bytes();
        let x = unicode(id, &f.name, format!("{P}{shown}").as_bytes());
        if local {
            f.local_extra = x;
        } else {
            f.central_extra = x;
        }
    })
}

/// Offset of the local header of the `i`th entry (by scanning for signatures).
fn z_offset_of(b: &[u8], i: usize) -> u32 {
    b.windows(4)
        .enumerate()
        .filter(|(_, w)| *w == b"PK\x03\x04")
        .nth(i)
        .unwrap()
        .0 as u32
}

fn set_last_central_offset(mut b: Vec<u8>, offset: u32) -> Vec<u8> {
    let at = b.windows(4).rposition(|w| w == b"PK\x01\x02").unwrap();
    b[at + 42..at + 46].copy_from_slice(&offset.to_le_bytes());
    b
}

/// splitmix64: a fixed-seed generator, so the mutations are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut x = self.0;
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^ (x >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Seeded mutations of valid zips: header fields set to boundary values or random bytes, at
/// offsets inside the local headers, central headers and end records.
fn mutations(n: usize) -> Vec<(String, Vec<u8>)> {
    let bases = [
        z(files()),
        with(|v| v.iter_mut().for_each(|f| f.desc = Desc::WithSig)),
        with(|v| v.iter_mut().for_each(|f| f.zip64 = true)),
        {
            let mut z = z(files());
            z.zip64_end = true;
            z.prepend = b"prefix".to_vec();
            z
        },
    ];
    let mut rng = Rng(0x5eed_2026);
    let mut out = Vec::new();
    for i in 0..n {
        let b = rng.below(bases.len());
        let mut bytes = build(&bases[b]);
        // Header starts: every signature in the file.
        let starts: Vec<usize> = bytes
            .windows(4)
            .enumerate()
            .filter(|(_, w)| w[0] == b'P' && w[1] == b'K' && w[2] < 9 && w[3] < 9)
            .map(|(i, _)| i)
            .collect();
        let mut what = Vec::new();
        for _ in 0..1 + rng.below(3) {
            let at = (starts[rng.below(starts.len())] + 4 + rng.below(42)).min(bytes.len() - 1);
            let value: &[u8] = match rng.below(5) {
                0 => &[0xff, 0xff, 0xff, 0xff],
                1 => &[0, 0, 0, 0],
                2 => &[1],
                3 => &[0xff, 0xff],
                _ => &[rng.next() as u8],
            };
            let end = (at + value.len()).min(bytes.len());
            bytes[at..end].copy_from_slice(&value[..end - at]);
            what.push(format!("@{at}={}", hex(value)));
        }
        out.push((
            format!("mutation {i} of base {b} ({})", what.join(" ")),
            bytes,
        ));
    }
    out
}

/// Runs goward and Go on every case and checks the property; returns (accepted, refused).
fn differential(cases: &[(String, Vec<u8>)]) -> (Vec<String>, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<PathBuf> = cases
        .iter()
        .enumerate()
        .map(|(i, (_, bytes))| {
            let p = dir.path().join(format!("{i}.zip"));
            std::fs::write(&p, bytes).unwrap();
            p
        })
        .collect();
    let mut args = vec![M.to_owned(), V.to_owned()];
    args.extend(paths.iter().map(|p| p.display().to_string()));
    let out = std::process::Command::new(zipview())
        .args(&args)
        .output()
        .expect("run zipview");
    assert!(
        out.status.success(),
        "zipview: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let views: Vec<GoView> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(views.len(), cases.len());
    let (mut accepted, mut refused, mut differ) = (Vec::new(), Vec::new(), Vec::new());
    for (((name, bytes), path), go) in cases.iter().zip(&paths).zip(&views) {
        assert_eq!(go.zip, path.display().to_string());
        match check_zip_path_listing(path, M, V, &ZipLimits::default()) {
            Err(e) => refused.push(format!("{name}: {e}")),
            Ok((report, hashed)) => {
                let keep = || {
                    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("zipdiff-failures");
                    std::fs::create_dir_all(&d).unwrap();
                    let f = d.join(format!(
                        "{}.zip",
                        name.replace(|c: char| !c.is_alphanumeric(), "_")
                    ));
                    std::fs::write(&f, bytes).unwrap();
                    f.display().to_string()
                };
                let same = go.check == "ok"
                    && go.h1 == report.h1.as_str()
                    && go.files.as_ref() == Some(&listing(&hashed))
                    && go.unzip == "ok"
                    && go.extracted == extracted(&hashed);
                if !same {
                    differ.push(format!(
                        "{name}: goward accepted the zip (kept as {}) with {}, but Go reads it \
                     differently:\n  Go CheckZip: {}\n  Go HashZip h1: {:?} (error {:?}), goward \
                     h1: {}\n  Go archive/zip files (open error {:?}):\n    {:?}\n  goward hashed \
                     files:\n    {:?}\n  Go Unzip: {}, wrote {:?}\n  goward's files to \
                     extract: {:?}",
                        keep(),
                        report.h1.as_str(),
                        go.check,
                        go.h1,
                        go.h1_err,
                        report.h1.as_str(),
                        go.open_err,
                        go.files,
                        listing(&hashed),
                        go.unzip,
                        go.extracted,
                        extracted(&hashed),
                    ));
                }
                accepted.push(name.clone());
            }
        }
    }
    assert!(
        differ.is_empty(),
        "{} of {} zips were accepted by goward but read differently by Go:\n\n{}",
        differ.len(),
        cases.len(),
        differ.join("\n\n")
    );
    (accepted, refused)
}

/// goward's hashed entries in zipview's form.
fn listing(hashed: &[HashedEntry]) -> Vec<GoFile> {
    hashed
        .iter()
        .map(|e| GoFile {
            name: hex(&e.name),
            size: e.size,
            sha256: hex(&e.sha256),
            err: String::new(),
        })
        .collect()
}

/// The regular files goward's hashed entries stand for, as x/mod `Unzip` writes them.
fn extracted(hashed: &[HashedEntry]) -> Vec<GoFile> {
    let mut v: Vec<GoFile> = listing(
        &hashed
            .iter()
            .filter(|e| !e.name.ends_with(b"/"))
            .map(|e| HashedEntry {
                name: e.name[P.len()..].to_vec(),
                ..e.clone()
            })
            .collect::<Vec<_>>(),
    );
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

/// The named cases: every one is refused by goward or read the same by Go; the valid ones are
/// accepted, and the two attacks are refused.
#[test]
fn named_cases_match_go() {
    let cases = cases();
    let (accepted, refused) = differential(&cases);
    eprintln!("accepted {}:\n  {}", accepted.len(), accepted.join("\n  "));
    eprintln!("refused {}:\n  {}", refused.len(), refused.join("\n  "));
    for must in [
        "valid",
        "stored",
        "descriptors",
        "descriptors without signature",
        "directory entries",
        "comment",
        "prepended data",
        "prepended data, absolute offsets",
        "zip64 sizes",
        "zip64 sizes and offsets",
        "zip64 end record",
        "zip64 everything",
        "unknown extra fields",
        "local name differs",
    ] {
        assert!(
            accepted.iter().any(|a| a == must),
            "{must} was refused: {refused:#?}"
        );
    }
    for attack in [
        "two zip64 blocks, evil first",
        "two zip64 blocks, honest first",
        "unicode path to ../evil.go",
        "unicode path hiding a nested go.mod",
        "unicode path in the local header",
        "hidden archive in the comment",
    ] {
        assert!(
            refused
                .iter()
                .any(|r| r.starts_with(&format!("{attack}: ambiguous module zip"))),
            "{attack} was not refused as ambiguous: {refused:#?}"
        );
    }
}

/// Seeded mutations: the property holds for every one.
#[test]
fn mutated_zips_match_go() {
    let cases = mutations(1000);
    let (accepted, refused) = differential(&cases);
    eprintln!("accepted {}, refused {}", accepted.len(), refused.len());
    // Not vacuous: some mutations leave a zip both read the same, many break it.
    assert!(accepted.len() >= 20, "only {} accepted", accepted.len());
    assert!(refused.len() >= 20, "only {} refused", refused.len());
}

/// The scenario through `goward serve`, for a client that verifies nothing itself
/// (`GOSUMDB=off`): the checksum DB logs the honest module; the upstream serves a zip that the
/// zip crate reads as exactly that module (so the old check passed it and logged "verified and
/// stored") while Go's archive/zip extracts the evil `m.go`. goward refuses it and stores
/// nothing.
#[test]
fn serve_refuses_the_two_zip64_attack() {
    let go_mod = std::str::from_utf8(GO_MOD).unwrap();
    let genuine = ModZip::new(M, V)
        .file("m.go", HONEST_M_GO)
        .file("go.mod", GO_MOD)
        .file("sub/b.go", noise(1, 300))
        .file("LICENSE", b"Permission is granted. ".repeat(40));
    let honest_h1 = genuine.h1();
    let fake = FakeProxy::start(TestLog::new("sum.goward.test"));
    let p = fake.publish(genuine, go_mod);
    let vkey = fake.with_log(|l| l.vkey());
    let g = Goward::start(&fake.url(), &vkey, &[]);

    let attack = build(&two_zip64_offsets(true));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("attack.zip");
    std::fs::write(&path, &attack).unwrap();
    // The premise: the zip crate's reading hashes to the logged h1, Go's does not.
    assert_eq!(
        goward::xmod::dirhash::hash_zip(&path).unwrap().as_str(),
        honest_h1
    );
    let out = std::process::Command::new(zipview())
        .args([M, V, &path.display().to_string()])
        .output()
        .unwrap();
    let go: GoView = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((go.check.as_str(), go.unzip.as_str()), ("ok", "ok"));
    assert_ne!(go.h1, honest_h1, "Go must read the evil m.go");

    fake.set_fault(&p.zip_path(), Fault::Body(attack.clone()));
    let r = g.get(&p.zip_path());
    assert_eq!(r.status, 502, "{:?}", r.text());
    assert!(
        r.text().contains(
            "ambiguous module zip: example.com/m@v1.0.0/m.go: 2 zip64 extra fields in its \
             central header (Go's archive/zip reads the first, other readers the last)"
        ),
        "{:?}",
        r.text()
    );
    assert!(files_containing(g.cache_dir(), &attack).is_empty());
    for d in ["blobs", "meta", "tmp"] {
        let stored = files_under(&g.cache_dir().join(d));
        assert!(stored.is_empty(), "stored {stored:?}");
    }
}
