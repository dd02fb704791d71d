//! `goward verify-toolchain`: proves that a toolchain module zip, a go.dev/dl
//! release archive or an installed Go tree is an official Go release, against
//! the checksum database (online) or goward's verified cache (`--offline`).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{ArgGroup, Args};
use serde::Serialize;

use super::archive::{self, Progress, ReadError, ZipFlavor};
use super::prove::{Backend, Failure, RecordCheck, check_record};
use super::{
    ArchiveFormat, Differences, FileSet, TOOLCHAIN_MODULE, Target, goroot, parse_archive_name,
    unmap_module_path,
};
use crate::cache::disk::hex;
use crate::config::{CacheLocation, Config, ServeArgs};

const AFTER_LONG_HELP: &str = "\
What each input can tell:
  toolchain module zip (golang.org/toolchain@v0.0.1-goX.Y.Z.OS-ARCH, as the go command
    downloads it): every module-zip rule goward's proxy runs, then its h1: against the
    proven checksum-database record.
  release archive (goX.Y.Z.OS-ARCH.tar.gz or .zip from go.dev/dl; version, OS and
    architecture are taken from the file name): its files are mapped to the module's
    (go-protocol.md 5.2: regular files only; go/ stripped; the top-level api/ doc/ misc/
    test/ and .github/ trees dropped; every go.mod renamed _go.mod; armv6l is arm), hashed
    one at a time, and the h1: is compared with the record. The dropped trees are not in
    the module, so the checksum database says nothing about them: --sha256 or --dl-json
    also checks the whole file (that hash is only as trustworthy as the TLS connection to
    go.dev it came from; the checksum database is a transparency log).
  installed tree (--goroot DIR): the same mapping over the files on disk (version from
    DIR/VERSION, platform from DIR/pkg/tool/OS_ARCH). A tree unpacked from a release
    archive verifies as long as nothing was added, changed or removed outside api/ doc/
    misc/ test/ (which nothing checks in a tree); a tree the go command unpacked into its
    module cache (where each _go.mod has a go.mod copy beside it) verifies too. Local
    edits are reported like any tampering: files a Go installation gained after unpacking
    (a pkg/ directory written by an old 'go install std', editor or OS metadata files) are
    extra, and an edited go.env (images often set GOTOOLCHAIN=local there) is changed -
    rightly so, since go.env sets the default GOPROXY, GOSUMDB and GOTOOLCHAIN.

The checksum database holds one hash per toolchain, not a file list. When the hash
differs, goward takes the official file list from the toolchain module zip (goward's
verified cache, else the upstream through goward's whole verification path, which then
caches it) and names every changed, missing and extra file. Anything no release has
(symbolic links, files outside go/, duplicate names) also fails verification.

Online, the proof goes through --upstream and the first --sumdb exactly as for 'goward
serve', and advances goward's trusted tree head in --cache-dir. --offline uses only what
goward verified before in --cache-dir (trusted tree head, proven lookup and tiles, and for
a per-file report the cached module zip); a missing piece is an error that names it.

Exit status: 0 verified, 1 not verified, 2 usage, configuration, I/O or network error
(could not tell).";

/// Flags of `goward verify-toolchain`.
#[derive(Debug, Args)]
#[command(
    group(ArgGroup::new("input").required(true).args(["file", "goroot"])),
    after_long_help = AFTER_LONG_HELP,
    mut_arg("config", |a| a.help(
        "TOML configuration file (as for serve; only the keys below and the timeouts matter)"
    )),
    mut_arg("cache_dir", |a| a.help(
        "Cache directory: trusted tree head, proven lookups and tiles, verified zips \
         [default: the per-user cache dir + /goward]"
    ))
)]
pub struct VerifyToolchainArgs {
    /// A golang.org/toolchain module zip, or a go.dev/dl release archive
    /// (goX.Y.Z.OS-ARCH.tar.gz or .zip).
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// An installed Go tree instead of a file, e.g. "$(go env GOROOT)".
    #[arg(long, value_name = "DIR")]
    pub goroot: Option<PathBuf>,
    /// Go version of the release [default: from the file name, the module zip or DIR/VERSION].
    #[arg(long, value_name = "goX.Y.Z")]
    pub version: Option<String>,
    /// GOOS of the release [default: from the file name, the module zip or DIR/pkg/tool].
    #[arg(long, value_name = "OS")]
    pub os: Option<String>,
    /// GOARCH of the release; armv6l means arm [default: as --os].
    #[arg(long, value_name = "ARCH")]
    pub arch: Option<String>,
    /// Also require this SHA-256 (hex) of the whole file.
    #[arg(long, value_name = "HEX", conflicts_with_all = ["dl_json", "goroot"])]
    pub sha256: Option<String>,
    /// Also require the whole file's SHA-256 listed for its file name in a saved
    /// https://go.dev/dl/?mode=json (or &include=all) document.
    #[arg(long, value_name = "FILE", conflicts_with = "goroot")]
    pub dl_json: Option<PathBuf>,
    /// Use only what goward already verified in its cache; no network.
    #[arg(long, env = "GOWARD_OFFLINE", value_parser = clap::builder::FalseyValueParser::new())]
    pub offline: bool,
    /// Print one JSON object on stdout instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub location: CacheLocation,
    /// Upstream proxies, GOPROXY syntax [default: https://proxy.golang.org].
    #[arg(long, env = "GOWARD_UPSTREAM", value_name = "LIST")]
    pub upstream: Option<String>,
    /// Checksum database, as GOSUMDB: "name+hash+key [URL]"; the first one proves
    /// [default: sum.golang.org].
    #[arg(
        long = "sumdb",
        env = "GOWARD_SUMDB",
        value_name = "KEY [URL]",
        value_delimiter = ';'
    )]
    pub sumdb: Vec<String>,
}

/// What was checked and what came out, printed as text or JSON.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Report {
    /// The verdict.
    pub verified: bool,
    /// The file or directory given.
    pub input: String,
    /// `module-zip`, `release-archive` or `goroot`.
    pub input_kind: &'static str,
    /// `golang.org/toolchain`.
    pub module: &'static str,
    /// The module version, `v0.0.1-goX.Y.Z.OS-ARCH`.
    pub version: Option<String>,
    /// The Go version.
    pub go_version: Option<String>,
    /// GOOS.
    pub goos: Option<String>,
    /// GOARCH.
    pub goarch: Option<String>,
    /// Files hashed (entries, for a module zip).
    pub files: Option<u64>,
    /// Bytes hashed (file contents).
    pub bytes: Option<u64>,
    /// Files under api/ doc/ misc/ test/ .github/: not in the module, not covered.
    pub not_covered: u64,
    /// The input's `h1:` as the toolchain module.
    pub h1: Option<String>,
    /// The proof.
    pub checksum_db: Option<DbReport>,
    /// The whole-file SHA-256 check, if asked for.
    pub sha256: Option<ShaReport>,
    /// Per-file differences from the official module, when the hash differs.
    pub differences: Option<Differences>,
    /// Why no per-file report could be made, when the hash differs.
    pub per_file_report_unavailable: Option<String>,
    /// Things no official release has.
    pub problems: Vec<String>,
    /// Why the check failed or could not be done.
    pub error: Option<String>,
    /// Exit status.
    #[serde(skip)]
    pub code: u8,
}

/// The checksum-database record that the input was compared with.
#[derive(Debug, Serialize)]
pub(crate) struct DbReport {
    /// Database name.
    pub name: String,
    /// Record number.
    pub record: u64,
    /// Size of the tree the record was proven in.
    pub tree_size: u64,
    /// The signed tree head that proved it.
    pub tree_note: String,
    /// The record's `h1:` for the zip (absent: CVE-2026-42501, never a pass).
    pub record_h1: Option<String>,
    /// `online` or `offline` (goward's cache only).
    pub proven: &'static str,
}

/// The whole-file SHA-256 check.
#[derive(Debug, Serialize)]
pub(crate) struct ShaReport {
    /// Expected (lowercase hex).
    pub expected: String,
    /// Computed (lowercase hex).
    pub actual: String,
    /// Whether they are equal.
    pub matches: bool,
    /// `--sha256` or the `--dl-json` file.
    pub from: String,
}

/// The input, classified.
#[derive(Debug)]
enum Input {
    Goroot(PathBuf),
    ReleaseTarGz(PathBuf),
    ReleaseZip(PathBuf),
    ModuleZip(PathBuf),
}

impl Input {
    fn kind(&self) -> &'static str {
        match self {
            Input::Goroot(_) => "goroot",
            Input::ReleaseTarGz(_) | Input::ReleaseZip(_) => "release-archive",
            Input::ModuleZip(_) => "module-zip",
        }
    }
}

/// Runs `goward verify-toolchain`; prints the report; returns 0 verified,
/// 1 not verified, 2 could not tell.
pub(crate) fn run(args: &VerifyToolchainArgs) -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
    let report = verify(args);
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(s) => crate::outln!("{s}"),
            Err(e) => eprintln!("goward: encoding the report: {e}"),
        }
        if report.code == 2
            && let Some(e) = &report.error
        {
            eprintln!("goward: {e}");
        }
    } else {
        print_text(&report);
    }
    ExitCode::from(report.code)
}

fn verify(args: &VerifyToolchainArgs) -> Report {
    let mut report = Report {
        module: TOOLCHAIN_MODULE,
        input: args
            .goroot
            .as_ref()
            .or(args.file.as_ref())
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        ..Report::default()
    };
    if let Err(f) = verify_into(args, &mut report) {
        report.verified = false;
        report.code = f.code;
        report.error = Some(f.msg);
    }
    report
}

fn load_config(args: &VerifyToolchainArgs) -> Result<Config, Failure> {
    let serve = ServeArgs {
        offline: args.offline,
        upstream: args.upstream.clone(),
        sumdb: args.sumdb.clone(),
        ..args.location.serve_args()
    };
    Config::load(&serve).map_err(|e| Failure::cannot_tell(e.to_string()))
}

/// Classifies the input and resolves the release it claims to be.
fn classify(args: &VerifyToolchainArgs) -> Result<(Input, Target), Failure> {
    let usage = |m: String| Failure::cannot_tell(m);
    let (v, o, a) = (
        args.version.as_deref(),
        args.os.as_deref(),
        args.arch.as_deref(),
    );
    if let Some(dir) = &args.goroot {
        let dir = std::fs::canonicalize(dir)
            .map_err(|e| usage(format!("--goroot {}: {e}", dir.display())))?;
        let t = goroot::infer_target(&dir, v, o, a).map_err(|e| usage(e.0))?;
        return Ok((Input::Goroot(dir), t));
    }
    let Some(file) = args.file.clone() else {
        return Err(usage("give a FILE or --goroot DIR".into()));
    };
    let meta = std::fs::metadata(&file).map_err(|e| usage(format!("{}: {e}", file.display())))?;
    if !meta.is_file() {
        return Err(usage(format!(
            "{}: not a file (use --goroot for an installed tree)",
            file.display()
        )));
    }
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let is_zip = name.ends_with(".zip");
    let flavor = if is_zip {
        Some(archive::sniff_zip(&file).map_err(read_failure)?)
    } else {
        None
    };
    if let Some(ZipFlavor::Module(version)) = flavor {
        let t = Target::from_module_version(&version)
            .map_err(|e| Failure::not_verified(format!("{}: {e}", file.display())))?;
        for (flag, given, have) in [
            ("--version", v, &t.go_version),
            ("--os", o, &t.goos),
            ("--arch", a, &t.goarch),
        ] {
            if let Some(g) = given {
                let g = if flag == "--arch" && g == "armv6l" {
                    "arm"
                } else {
                    g
                };
                if g != have {
                    return Err(usage(format!(
                        "{}: the module zip is for {t} ({version}), not {flag} {g}",
                        file.display()
                    )));
                }
            }
        }
        return Ok((Input::ModuleZip(file), t));
    }
    let inferred = parse_archive_name(&name);
    let format = match (&inferred, is_zip) {
        (Ok((_, f)), _) => *f,
        (Err(_), true) => ArchiveFormat::Zip,
        (Err(_), false) if name.ends_with(".tar.gz") || name.ends_with(".tgz") => {
            ArchiveFormat::TarGz
        }
        (Err(e), false) => return Err(usage(e.0.clone())),
    };
    let t = match (&inferred, v, o, a) {
        (_, Some(v), Some(o), Some(a)) => Target::new(v, o, a),
        (Ok((t, _)), v, o, a) => Target::new(
            v.unwrap_or(&t.go_version),
            o.unwrap_or(&t.goos),
            a.unwrap_or(&t.goarch),
        ),
        (Err(e), ..) => Err(e.clone()),
    }
    .map_err(|e| usage(e.0))?;
    let input = match format {
        ArchiveFormat::TarGz => Input::ReleaseTarGz(file),
        ArchiveFormat::Zip => Input::ReleaseZip(file),
    };
    Ok((input, t))
}

fn read_failure(e: ReadError) -> Failure {
    match e {
        ReadError::Io { .. } => Failure::cannot_tell(e.to_string()),
        ReadError::Damaged { .. } => Failure::not_verified(e.to_string()),
    }
}

/// The expected whole-file SHA-256, from `--sha256` or `--dl-json`.
fn expected_sha256(args: &VerifyToolchainArgs) -> Result<Option<(String, String)>, Failure> {
    if let Some(h) = &args.sha256 {
        let h = h.trim().to_ascii_lowercase();
        if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Failure::cannot_tell(format!(
                "--sha256 {h:?}: want 64 hex digits"
            )));
        }
        return Ok(Some((h, "--sha256".into())));
    }
    let Some(doc) = &args.dl_json else {
        return Ok(None);
    };
    let file = args.file.as_deref().unwrap_or(Path::new(""));
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let from = format!("--dl-json {}", doc.display());
    let text = std::fs::read(doc).map_err(|e| Failure::cannot_tell(format!("{from}: {e}")))?;
    let h =
        dl_json_sha256(&text, &name).map_err(|e| Failure::cannot_tell(format!("{from}: {e}")))?;
    Ok(Some((h, from)))
}

/// The `sha256` of the file named `name` in a go.dev/dl JSON document
/// (an array of releases, each with `files`).
pub(crate) fn dl_json_sha256(doc: &[u8], name: &str) -> Result<String, String> {
    let v: serde_json::Value = serde_json::from_slice(doc).map_err(|e| format!("not JSON: {e}"))?;
    let releases = v
        .as_array()
        .ok_or("not a go.dev/dl document (want a JSON array of releases)")?;
    let mut found = Vec::new();
    for r in releases {
        for f in r
            .get("files")
            .and_then(|f| f.as_array())
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            if f.get("filename").and_then(|n| n.as_str()) == Some(name) {
                found.push(
                    f.get("sha256")
                        .and_then(|s| s.as_str())
                        .unwrap_or_default()
                        .to_ascii_lowercase(),
                );
            }
        }
    }
    found.dedup();
    match found.as_slice() {
        [] => Err(format!(
            "lists no file named {name:?} (save https://go.dev/dl/?mode=json&include=all for older releases)"
        )),
        [h] if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => Ok(h.clone()),
        [h] => Err(format!("has no usable sha256 for {name:?} ({h:?})")),
        _ => Err(format!("lists {name:?} with different sha256 values")),
    }
}

fn verify_into(args: &VerifyToolchainArgs, report: &mut Report) -> Result<(), Failure> {
    let config = load_config(args)?;
    let (input, target) = classify(args)?;
    report.input_kind = input.kind();
    if let Input::Goroot(dir) = &input {
        report.input = dir.display().to_string();
    }
    report.version = Some(target.module_version());
    report.go_version = Some(target.go_version.clone());
    report.goos = Some(target.goos.clone());
    report.goarch = Some(target.goarch.clone());
    if matches!(input, Input::ModuleZip(_)) && args.dl_json.is_some() {
        return Err(Failure::cannot_tell(
            "--dl-json lists release archives; a module zip is not one (use --sha256)",
        ));
    }
    let expected = expected_sha256(args)?;
    let backend = Backend::open(&config, &target)?;
    let pending = backend.start_proof(&target);

    // Hash the input while the proof runs.
    let tty = std::io::stderr().is_terminal() && !args.json;
    let label = |p: &Path| {
        format!(
            "hashing {}",
            p.file_name().unwrap_or_default().to_string_lossy()
        )
    };
    let size_of = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let mut set: Option<FileSet> = None;
    let (h1, whole_sha) = match &input {
        Input::ModuleZip(path) => {
            let limits = crate::verify::zip::ZipLimits {
                max_zip_file: config.max_zip_size,
                ..Default::default()
            };
            let r = crate::verify::zip::check_zip_path(
                path,
                TOOLCHAIN_MODULE,
                &target.module_version(),
                &limits,
            );
            match r {
                Ok(r) => {
                    report.files = Some(r.entries as u64);
                    report.bytes = Some(r.size);
                    (r.h1, Some(r.sha256))
                }
                Err(e) => {
                    report.problems = e.problems();
                    return Err(Failure::not_verified(format!(
                        "{}: not a valid module zip for {}@{}",
                        path.display(),
                        TOOLCHAIN_MODULE,
                        target.module_version()
                    )));
                }
            }
        }
        Input::ReleaseTarGz(path) => {
            let mut p = Progress::new(label(path), size_of(path), tty);
            let (s, sha) = archive::read_release_tar_gz(path, &mut p).map_err(read_failure)?;
            p.finish();
            let h1 = s
                .h1(&target)
                .map_err(|e| Failure::not_verified(e.to_string()))?;
            set = Some(s);
            (h1, Some(sha))
        }
        Input::ReleaseZip(path) => {
            let mut p = Progress::new(label(path), size_of(path), tty);
            let s = archive::read_release_zip(path, &mut p).map_err(read_failure)?;
            p.finish();
            let sha = match expected {
                Some(_) => {
                    let mut p =
                        Progress::new(format!("{} (sha256)", label(path)), size_of(path), tty);
                    Some(archive::sha256_file(path, &mut p).map_err(read_failure)?)
                }
                None => None,
            };
            let h1 = s
                .h1(&target)
                .map_err(|e| Failure::not_verified(e.to_string()))?;
            set = Some(s);
            (h1, sha)
        }
        Input::Goroot(dir) => {
            let mut p = Progress::new(format!("hashing {}", dir.display()), 0, tty);
            let s = goroot::read_goroot(dir, &mut p).map_err(read_failure)?;
            p.finish();
            let h1 = s
                .h1(&target)
                .map_err(|e| Failure::not_verified(e.to_string()))?;
            set = Some(s);
            (h1, None)
        }
    };
    if let Some(s) = &set {
        report.files = Some(s.files.len() as u64);
        report.bytes = Some(s.bytes);
        report.not_covered = s.dropped;
        report.problems.clone_from(&s.problems);
    }
    report.h1 = Some(h1.to_string());
    let mut ok = report.problems.is_empty();
    if let Some((want, from)) = expected {
        let actual = whole_sha.map(|d| hex(&d)).unwrap_or_default();
        let matches = actual == want;
        ok &= matches;
        report.sha256 = Some(ShaReport {
            expected: want,
            actual,
            matches,
            from,
        });
    }

    let record = backend.finish_proof(pending)?;
    let check = check_record(&record, &h1);
    report.checksum_db = Some(DbReport {
        name: record.db().to_owned(),
        record: record.id(),
        tree_size: record.tree().n,
        tree_note: String::from_utf8_lossy(record.note()).into_owned(),
        record_h1: record.zip_h1s().first().map(ToString::to_string),
        proven: if backend.offline() {
            "offline"
        } else {
            "online"
        },
    });
    match check {
        RecordCheck::Match => {}
        RecordCheck::NoZipLine => {
            report.code = 1;
            report.error = Some(format!(
                "checksum database {} record {} has no h1: line for {}@{}: nothing proves this toolchain (CVE-2026-42501)",
                record.db(),
                record.id(),
                TOOLCHAIN_MODULE,
                target.module_version()
            ));
            return Ok(());
        }
        RecordCheck::Mismatch(want) => {
            ok = false;
            report.error = Some(format!(
                "{h1} is not the h1: of the official release ({want}, checksum database {} record {})",
                record.db(),
                record.id()
            ));
            let ours = match (&set, &input) {
                (Some(s), _) => Ok(s.clone()),
                (None, Input::ModuleZip(path)) => {
                    archive::module_zip_file_set(path, &target.zip_prefix()).map_err(read_failure)
                }
                (None, _) => Err(Failure::cannot_tell("no file list")),
            };
            let reference = backend.reference_files(&target);
            match (ours, reference) {
                (Ok(ours), Ok(reference)) => {
                    report.differences = Some(differences(&input, &ours, &reference));
                }
                (Err(f), _) | (_, Err(f)) => report.per_file_report_unavailable = Some(f.msg),
            }
        }
    }
    report.verified = ok;
    report.code = if ok { 0 } else { 1 };
    Ok(())
}

fn differences(
    input: &Input,
    ours: &FileSet,
    reference: &BTreeMap<String, [u8; 32]>,
) -> Differences {
    match input {
        Input::ReleaseTarGz(_) | Input::ReleaseZip(_) => {
            Differences::between(ours, reference, |n| format!("go/{}", unmap_module_path(n)))
        }
        Input::Goroot(_) => Differences::between(ours, reference, unmap_module_path),
        Input::ModuleZip(_) => Differences::between(ours, reference, str::to_owned),
    }
}

fn print_text(r: &Report) {
    if r.code == 2 {
        eprintln!(
            "goward: verify-toolchain: {}",
            r.error.as_deref().unwrap_or("failed")
        );
        return;
    }
    let kind = match r.input_kind {
        "goroot" => "installed Go tree",
        "release-archive" => "go.dev/dl release archive",
        "module-zip" => "toolchain module zip",
        _ => "input",
    };
    crate::outln!("input:     {} ({kind})", r.input);
    if let (Some(v), Some(gv), Some(os), Some(arch)) =
        (&r.version, &r.go_version, &r.goos, &r.goarch)
    {
        crate::outln!("toolchain: {}@{v} ({gv} {os}/{arch})", r.module);
    }
    if let Some(n) = r.files {
        let mib = r.bytes.unwrap_or(0) as f64 / f64::from(1 << 20);
        let mut line = if r.input_kind == "module-zip" {
            format!("files:     {n} zip entries hashed (zip of {mib:.1} MiB)")
        } else {
            format!("files:     {n} hashed ({mib:.1} MiB)")
        };
        if r.not_covered > 0 {
            line.push_str(&format!(
                "; {} under api/ doc/ misc/ test/ .github/ are not part of the module and not covered",
                r.not_covered
            ));
        }
        crate::outln!("{line}");
    }
    if let Some(h) = &r.h1 {
        crate::outln!("h1:        {h}");
    }
    if let Some(db) = &r.checksum_db {
        crate::outln!(
            "record:    {} (checksum database {}, record {}, tree size {}, proven {})",
            db.record_h1.as_deref().unwrap_or("no h1: line for the zip"),
            db.name,
            db.record,
            db.tree_size,
            db.proven
        );
    }
    if let Some(s) = &r.sha256 {
        crate::outln!(
            "sha256:    {} {} {} ({})",
            s.actual,
            if s.matches { "matches" } else { "DIFFERS from" },
            s.expected,
            s.from
        );
    }
    if r.verified {
        crate::outln!(
            "VERIFIED: {} {}/{} is byte for byte the official release{}",
            r.go_version.as_deref().unwrap_or_default(),
            r.goos.as_deref().unwrap_or_default(),
            r.goarch.as_deref().unwrap_or_default(),
            if r.not_covered > 0 && r.sha256.is_none() {
                " (module files)"
            } else {
                ""
            }
        );
        return;
    }
    crate::outln!(
        "NOT VERIFIED: {}",
        r.error.as_deref().unwrap_or(match &r.sha256 {
            Some(s) if !s.matches => "the file's SHA-256 differs",
            _ => "the input has things no official release has",
        })
    );
    if let Some(d) = &r.differences {
        for f in &d.changed {
            crate::outln!("changed:   {f}");
        }
        for f in &d.missing {
            crate::outln!("missing:   {f}");
        }
        for f in &d.extra {
            crate::outln!("extra:     {f}");
        }
        if d.is_empty() {
            crate::outln!(
                "(the file lists agree; the difference is in names or entries the mapping does not cover)"
            );
        }
    }
    if let Some(why) = &r.per_file_report_unavailable {
        crate::outln!("no per-file report: {why}");
    }
    for p in &r.problems {
        crate::outln!("problem:   {p}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrap {
        #[command(flatten)]
        args: VerifyToolchainArgs,
    }

    fn parse(v: &[&str]) -> Result<VerifyToolchainArgs, clap::Error> {
        let mut full = vec!["verify-toolchain"];
        full.extend_from_slice(v);
        Wrap::try_parse_from(full).map(|w| w.args)
    }

    #[test]
    fn flags() {
        assert!(parse(&[]).is_err(), "an input is required");
        assert!(parse(&["a.zip", "--goroot", "/x"]).is_err());
        assert!(parse(&["--goroot", "/x", "--sha256", "00"]).is_err());
        assert!(parse(&["a.zip", "--sha256", "00", "--dl-json", "d.json"]).is_err());
        let a = parse(&[
            "go1.2.3.linux-amd64.tar.gz",
            "--version",
            "go1.2.3",
            "--offline",
            "--json",
            "--sumdb",
            "sum.golang.org",
        ])
        .unwrap();
        assert_eq!(a.version.as_deref(), Some("go1.2.3"));
        assert!(a.offline && a.json);
        assert_eq!(a.sumdb, ["sum.golang.org"]);
    }

    #[test]
    fn dl_json() {
        let doc = br#"[
 {"version": "go1.99.1", "stable": true, "files": [
  {"filename": "go1.99.1.src.tar.gz", "os": "", "arch": "", "sha256": "aa", "kind": "source"},
  {"filename": "go1.99.1.linux-amd64.tar.gz", "os": "linux", "arch": "amd64",
   "sha256": "ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB", "size": 1, "kind": "archive"}
 ]},
 {"version": "go1.0.1", "files": [{"filename": "go1.0.1.linux-amd64.tar.gz", "sha256": ""}]}
]"#;
        assert_eq!(
            dl_json_sha256(doc, "go1.99.1.linux-amd64.tar.gz").unwrap(),
            "abababababababababababababababababababababababababababababababab"
        );
        assert!(
            dl_json_sha256(doc, "go1.0.1.linux-amd64.tar.gz")
                .unwrap_err()
                .contains("no usable sha256")
        );
        assert!(
            dl_json_sha256(doc, "go9.linux-amd64.tar.gz")
                .unwrap_err()
                .contains("lists no file")
        );
        assert!(dl_json_sha256(b"{}", "x").is_err());
    }
}
