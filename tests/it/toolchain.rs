//! Go toolchains through goward (go-protocol.md §5, issue "Go toolchains").
//!
//! A small fake release `go1.99.1` is built in three forms from one file list: the
//! `golang.org/toolchain` module zip (served by the fake upstream and logged in its fake
//! checksum DB), go.dev/dl-style release archives (`.tar.gz`, `.zip`) and an unpacked GOROOT.
//! Its `bin/go` is a shell script that prints [`MARKER`].
//!
//! - The real go command switches to it with `GOTOOLCHAIN=go1.99.1` through goward; a tampered
//!   zip, or a record without the zip's `h1:` line (CVE-2026-42501), is refused by goward and
//!   nothing reaches its cache.
//! - `goward verify-toolchain` proves each form against the fake checksum DB, names changed,
//!   missing and extra files, and works `--offline` from what an earlier run cached.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::support::fakeproxy::{FakeProxy, Fault, Published};
use crate::support::gocmd::{GoEnv, GoOutput, assert_refused_by_goward};
use crate::support::modzip::{ModZip, h1_mod};
use crate::support::testlog::TestLog;
use crate::support::{Goward, Trap, files_containing, files_under, run_goward};

pub(crate) const DB_NAME: &str = "sum.toolchain.goward.test";
pub(crate) const GO_VERSION: &str = "go1.99.1";
const MODULE: &str = "golang.org/toolchain";
/// What the fake toolchain's `bin/go` prints.
pub(crate) const MARKER: &str = "goward-toolchain-marker: fake go1.99.1";
const TOOLCHAIN_GO_MOD: &str = "module golang.org/toolchain\n";

/// Substrings of goward's refusals (src/verify/mod.rs `VerifyError`).
const REASON_ZIP_HASH: &str = "zip hash mismatch";
const REASON_MISSING_LINE: &str = "has no h1: line for";

fn module_version(goos: &str, goarch: &str) -> String {
    format!("v0.0.1-{GO_VERSION}.{goos}-{goarch}")
}

/// The files of the fake release, relative to the release root (`go/` in an archive), for one
/// platform. The last four trees are not part of the module (go-protocol.md §5.2).
fn release_files(goos: &str, goarch: &str) -> Vec<(String, Vec<u8>)> {
    let exe = if goos == "windows" { ".exe" } else { "" };
    let go_script = format!("#!/bin/sh\necho \"{MARKER}\"\n");
    [
        (
            "VERSION".to_owned(),
            format!("{GO_VERSION}\ntime 2026-01-01T00:00:00Z\n"),
        ),
        (
            "go.env".to_owned(),
            "GOPROXY=https://proxy.golang.org,direct\nGOSUMDB=sum.golang.org\nGOTOOLCHAIN=auto\n"
                .to_owned(),
        ),
        ("LICENSE".to_owned(), "fake license\n".to_owned()),
        (format!("bin/go{exe}"), go_script),
        (format!("bin/gofmt{exe}"), "#!/bin/sh\nexit 0\n".to_owned()),
        (
            format!("pkg/tool/{goos}_{goarch}/compile{exe}"),
            "fake compiler\n".to_owned(),
        ),
        ("lib/time/README".to_owned(), "time zone data\n".to_owned()),
        (
            "src/go.mod".to_owned(),
            "module std\n\ngo 1.99\n".to_owned(),
        ),
        (
            "src/cmd/go.mod".to_owned(),
            "module cmd\n\ngo 1.99\n".to_owned(),
        ),
        ("src/cmd/go/main.go".to_owned(), "package main\n".to_owned()),
        (
            "api/go1.99.txt".to_owned(),
            "pkg fmt, func Println\n".to_owned(),
        ),
        (
            "doc/go_spec.html".to_owned(),
            "<html>spec</html>\n".to_owned(),
        ),
        ("misc/go.mod".to_owned(), "module misc\n".to_owned()),
        (
            "test/fixedbugs/issue1.go".to_owned(),
            "package p\n".to_owned(),
        ),
    ]
    .into_iter()
    .map(|(n, d)| (n, d.into_bytes()))
    .collect()
}

/// Test oracle for go-protocol.md §5.2, written independently of goward: the module name of a
/// release file, or `None` when the module leaves it out.
fn module_name(rel: &str) -> Option<String> {
    let top = rel.split('/').next().unwrap_or_default();
    if ["api", "doc", "misc", "test", ".github"].contains(&top) && rel.contains('/') {
        return None;
    }
    Some(match rel.strip_suffix("go.mod") {
        Some(dir) if dir.is_empty() || dir.ends_with('/') => format!("{dir}_go.mod"),
        _ => rel.to_owned(),
    })
}

/// The module zip of the fake release.
fn toolchain_zip(goos: &str, goarch: &str, files: &[(String, Vec<u8>)]) -> ModZip {
    let mut z = ModZip::new(MODULE, &module_version(goos, goarch));
    for (rel, data) in files {
        if let Some(name) = module_name(rel) {
            z = z.file(&name, data);
        }
    }
    z
}

/// Prepares a toolchain module (its .mod is `module golang.org/toolchain`, its zip has no
/// go.mod at the root) without serving or logging it.
fn prepare_toolchain(zip: ModZip) -> Published {
    let mut p = FakeProxy::prepare(zip, "");
    p.mod_bytes = TOOLCHAIN_GO_MOD.as_bytes().to_vec();
    p.mod_h1 = h1_mod(&p.mod_bytes);
    p
}

/// A fake upstream with the fake release logged and served for each platform.
pub(crate) struct World {
    pub(crate) fake: FakeProxy,
    pub(crate) vkey: String,
    pub(crate) published: Vec<Published>,
}

pub(crate) fn world(platforms: &[(&str, &str)]) -> World {
    let fake = FakeProxy::start(TestLog::new(DB_NAME));
    let vkey = fake.with_log(|l| l.vkey());
    let mut published = Vec::new();
    for (goos, goarch) in platforms {
        if published
            .iter()
            .any(|p: &Published| p.version == module_version(goos, goarch))
        {
            continue;
        }
        let mut p = prepare_toolchain(toolchain_zip(goos, goarch, &release_files(goos, goarch)));
        fake.log_module(&mut p);
        fake.serve(&p);
        published.push(p);
    }
    World {
        fake,
        vkey,
        published,
    }
}

impl World {
    pub(crate) fn toolchain(&self, goos: &str, goarch: &str) -> &Published {
        let v = module_version(goos, goarch);
        self.published
            .iter()
            .find(|p| p.version == v)
            .expect("published toolchain")
    }

    /// `goward verify-toolchain <args> --upstream <fake> --sumdb <vkey> --cache-dir <cache>`.
    fn verify(&self, cache: &Path, args: &[&str]) -> GoOutput {
        let url = self.fake.url();
        let cache = cache.display().to_string();
        let mut full = vec!["verify-toolchain"];
        full.extend_from_slice(args);
        full.extend_from_slice(&[
            "--upstream",
            &url,
            "--sumdb",
            &self.vkey,
            "--cache-dir",
            &cache,
        ]);
        run_goward(&full)
    }
}

/// The host's GOOS and GOARCH, as the go command sees them.
pub(crate) fn host_platform() -> (String, String) {
    let env = GoEnv::new("off", "off");
    let out = env.go(&["env", "GOOS", "GOARCH"]);
    out.assert_success();
    let mut lines = out.stdout.lines();
    let goos = lines.next().unwrap_or_default().trim().to_owned();
    let goarch = lines.next().unwrap_or_default().trim().to_owned();
    assert!(!goos.is_empty() && !goarch.is_empty(), "{}", out.dump());
    (goos, goarch)
}

/// A go environment with an empty main module that asks for `GOTOOLCHAIN=go1.99.1`.
pub(crate) fn switch_env(goward: &Goward, vkey: &str) -> GoEnv {
    // The go command requires a checksum database for toolchains (cmd/go modfetch/sumdb.go
    // useSumDB); its lookups go through goward's /sumdb/ endpoints.
    let mut env = GoEnv::new(goward.url(), vkey);
    env.set_env("GOTOOLCHAIN", GO_VERSION);
    env.write("go.mod", "module example.com/scratch\n\ngo 1.21\n");
    env
}

/// The module cache holds read-only directories; make them removable.
pub(crate) fn make_writable(dir: &Path) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755));
        }
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(e.path());
            }
        }
    }
}

/// goward's cache holds no metadata for the toolchain zip of `version`.
#[track_caller]
fn assert_no_toolchain_zip_cached(g: &Goward, version: &str) {
    let meta = g
        .cache_dir()
        .join("meta")
        .join(MODULE)
        .join("@v")
        .join(format!("{version}.zip.json"));
    assert!(!meta.exists(), "goward stored {}", meta.display());
    let blobs: Vec<PathBuf> = files_under(&g.cache_dir().join("blobs"));
    for b in &blobs {
        let bytes = std::fs::read(b).unwrap_or_default();
        assert!(
            !bytes.starts_with(b"PK"),
            "a zip blob reached goward's cache: {}",
            b.display()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// GOTOOLCHAIN through goward.

/// `GOTOOLCHAIN=go1.99.1 go version` downloads the fake toolchain through goward (proven in
/// the fake checksum DB) and runs its `bin/go`.
#[test]
fn gotoolchain_switch_runs_the_proven_toolchain() {
    let (goos, goarch) = host_platform();
    let w = world(&[(goos.as_str(), goarch.as_str()), ("linux", "amd64")]);
    let g = Goward::start(&w.fake.url(), &w.vkey, &[]);
    let env = switch_env(&g, &w.vkey);
    let out = env.go(&["version"]);
    make_writable(&env.modcache());
    out.assert_success();
    assert_eq!(out.stdout.trim(), MARKER, "{}", out.dump());
    let host = w.toolchain(&goos, &goarch);
    assert!(
        w.fake.requests(&host.zip_path()) == 1,
        "upstream requests: {:?}",
        w.fake.request_log()
    );
    assert!(
        !w.fake
            .requests_with_prefix(&format!("/sumdb/{DB_NAME}/lookup/"))
            .is_empty(),
        "goward did not look the toolchain up in the checksum DB"
    );
    let meta = g
        .cache_dir()
        .join("meta")
        .join(MODULE)
        .join("@v")
        .join(format!("{}.zip.json", host.version));
    assert!(meta.is_file(), "the verified toolchain zip was not cached");
    // The list and the linux-amd64 .info the go command consults for every version
    // (toolchain/switch.go) are served too.
    let linux = w.toolchain("linux", "amd64");
    let r = g.get(&linux.info_path());
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains(&linux.version), "{}", r.text());
    let r = g.get(&format!("/{MODULE}/@v/list"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains(&host.version), "{}", r.text());
}

/// A toolchain zip whose `bin/go` was replaced upstream is refused with goward's reason and
/// never reaches goward's cache; once the upstream is honest again the switch works.
#[test]
fn tampered_toolchain_zip_is_refused_and_not_cached() {
    let (goos, goarch) = host_platform();
    let w = world(&[(goos.as_str(), goarch.as_str())]);
    let host = w.toolchain(&goos, &goarch).clone();
    let mut files = release_files(&goos, &goarch);
    let exe = if goos == "windows" { ".exe" } else { "" };
    for (rel, data) in &mut files {
        if *rel == format!("bin/go{exe}") {
            *data = b"#!/bin/sh\necho EVIL-TOOLCHAIN-RAN\n".to_vec();
        }
    }
    // Stored, so the evil script would be visible verbatim in any cached copy.
    let evil = toolchain_zip(&goos, &goarch, &files).stored().build();
    w.fake
        .set_fault(&host.zip_path(), Fault::Body(evil.clone()));
    let g = Goward::start(&w.fake.url(), &w.vkey, &[]);

    let env = switch_env(&g, &w.vkey);
    let out = env.go(&["version"]);
    make_writable(&env.modcache());
    assert_refused_by_goward(&out, REASON_ZIP_HASH);
    assert!(
        files_containing(g.cache_dir(), b"EVIL-TOOLCHAIN-RAN").is_empty(),
        "the tampered toolchain reached goward's cache"
    );
    assert!(files_containing(g.cache_dir(), &evil).is_empty());
    assert_no_toolchain_zip_cached(&g, &host.version);

    w.fake.clear_faults();
    let env = switch_env(&g, &w.vkey);
    let out = env.go(&["version"]);
    make_writable(&env.modcache());
    out.assert_success();
    assert_eq!(out.stdout.trim(), MARKER, "{}", out.dump());
}

/// CVE-2026-42501: the checksum DB answers with a proven record that names only the go.mod of
/// the toolchain; goward refuses the zip.
#[test]
fn toolchain_record_without_the_zip_line_is_refused() {
    let (goos, goarch) = host_platform();
    let fake = FakeProxy::start(TestLog::new(DB_NAME));
    let vkey = fake.with_log(|l| l.vkey());
    let p = prepare_toolchain(toolchain_zip(
        &goos,
        &goarch,
        &release_files(&goos, &goarch),
    ));
    fake.serve(&p);
    fake.log_record(
        &p.path,
        &p.version,
        &format!("{} {}/go.mod {}\n", p.path, p.version, p.mod_h1),
    );
    let g = Goward::start(&fake.url(), &vkey, &[]);
    let env = switch_env(&g, &vkey);
    let out = env.go(&["version"]);
    make_writable(&env.modcache());
    assert_refused_by_goward(&out, REASON_MISSING_LINE);
    assert_no_toolchain_zip_cached(&g, &p.version);
    assert_ne!(g.get(&p.zip_path()).status, 200);
}

// ---------------------------------------------------------------------------------------------
// goward verify-toolchain.

/// The same release in its other forms.
struct Forms {
    dir: tempfile::TempDir,
}

impl Forms {
    fn new() -> Forms {
        Forms {
            dir: tempfile::Builder::new()
                .prefix("goward-toolchain-")
                .tempdir()
                .expect("temp dir"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A go.dev/dl-style `.tar.gz`: directory entries, `go/` prefix, executable bin/.
    fn tar_gz(&self, sub: &str, name: &str, files: &[(String, Vec<u8>)]) -> String {
        let path = self.path(sub).join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let f = std::fs::File::create(&path).unwrap();
        let gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
        let mut b = tar::Builder::new(gz);
        let mut dirs = std::collections::BTreeSet::new();
        for (rel, _) in files {
            let mut d = Path::new(rel).parent();
            while let Some(p) = d.filter(|p| !p.as_os_str().is_empty()) {
                dirs.insert(p.to_path_buf());
                d = p.parent();
            }
        }
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        b.append_data(&mut h, "go/", std::io::empty()).unwrap();
        for d in dirs {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o755);
            h.set_size(0);
            b.append_data(&mut h, format!("go/{}/", d.display()), std::io::empty())
                .unwrap();
        }
        for (rel, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Regular);
            h.set_mode(if rel.starts_with("bin/") {
                0o755
            } else {
                0o644
            });
            h.set_size(data.len() as u64);
            b.append_data(&mut h, format!("go/{rel}"), data.as_slice())
                .unwrap();
        }
        b.into_inner().unwrap().finish().unwrap();
        path.display().to_string()
    }

    /// A go.dev/dl-style Windows `.zip`.
    fn zip(&self, sub: &str, name: &str, files: &[(String, Vec<u8>)]) -> String {
        let path = self.path(sub).join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let f = std::fs::File::create(&path).unwrap();
        let mut w = zip::ZipWriter::new(f);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        w.add_directory("go/", opts).unwrap();
        for (rel, data) in files {
            w.start_file(format!("go/{rel}"), opts).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap();
        path.display().to_string()
    }

    /// An unpacked GOROOT.
    fn goroot(&self, sub: &str, files: &[(String, Vec<u8>)]) -> String {
        let root = self.path(sub).join("go");
        for (rel, data) in files {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, data).unwrap();
        }
        root.display().to_string()
    }

    /// The module zip itself, named as in the go command's download cache.
    fn module_zip(&self, p: &Published) -> String {
        let path = self.path(&format!("{}.zip", p.version));
        std::fs::write(&path, &p.zip).unwrap();
        path.display().to_string()
    }
}

fn tgz_name(goos: &str, goarch: &str) -> String {
    format!("{GO_VERSION}.{goos}-{goarch}.tar.gz")
}

/// The release with `bin/go` changed, `pkg/tool/…/compile` removed and `bin/evil` added.
fn tampered_files(goos: &str, goarch: &str) -> Vec<(String, Vec<u8>)> {
    let exe = if goos == "windows" { ".exe" } else { "" };
    let mut files = release_files(goos, goarch);
    let compile = format!("pkg/tool/{goos}_{goarch}/compile{exe}");
    files.retain(|(rel, _)| *rel != compile);
    for (rel, data) in &mut files {
        if *rel == format!("bin/go{exe}") {
            data.extend_from_slice(b"# backdoor\n");
        }
    }
    files.push((format!("bin/evil{exe}"), b"evil".to_vec()));
    files
}

#[track_caller]
fn assert_exit(out: &GoOutput, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "`{}` exited {:?}, want {code}\n{}",
        out.cmdline,
        out.status,
        out.dump()
    );
}

#[track_caller]
fn assert_verified(out: &GoOutput, record: u64) {
    assert_exit(out, 0);
    assert!(out.stdout.contains("VERIFIED: go1.99.1"), "{}", out.dump());
    assert!(
        out.stdout.contains(&format!(
            "checksum database {DB_NAME}, record {record}, tree size "
        )),
        "{}",
        out.dump()
    );
}

/// Matching tar.gz, zip, GOROOT and module zip verify, with the record that proved them.
#[test]
fn verify_toolchain_accepts_matching_archives_trees_and_module_zips() {
    let w = world(&[("linux", "amd64"), ("windows", "amd64")]);
    let cache = tempfile::tempdir().unwrap();
    let forms = Forms::new();
    let linux = w.toolchain("linux", "amd64");
    let windows = w.toolchain("windows", "amd64");
    let linux_record = linux.record.expect("logged");

    let tgz = forms.tar_gz(
        "ok",
        &tgz_name("linux", "amd64"),
        &release_files("linux", "amd64"),
    );
    let out = w.verify(cache.path(), &[&tgz]);
    assert_verified(&out, linux_record);
    assert!(
        out.stdout.contains(&format!("h1:        {}", linux.zip_h1)),
        "{}",
        out.dump()
    );
    assert!(
        out.stdout.contains("4 under api/ doc/ misc/ test/"),
        "{}",
        out.dump()
    );

    let zip = forms.zip(
        "ok",
        &format!("{GO_VERSION}.windows-amd64.zip"),
        &release_files("windows", "amd64"),
    );
    assert_verified(&w.verify(cache.path(), &[&zip]), windows.record.unwrap());

    let root = forms.goroot("ok", &release_files("linux", "amd64"));
    assert_verified(&w.verify(cache.path(), &["--goroot", &root]), linux_record);

    let modzip = forms.module_zip(linux);
    assert_verified(&w.verify(cache.path(), &[&modzip]), linux_record);

    // A renamed archive needs the release named on the command line.
    let renamed = forms.path("ok").join("download.tar.gz");
    std::fs::copy(&tgz, &renamed).unwrap();
    let renamed = renamed.display().to_string();
    let out = w.verify(cache.path(), &[&renamed]);
    assert_exit(&out, 2);
    assert!(
        out.stderr.contains("cannot infer the release"),
        "{}",
        out.dump()
    );
    let out = w.verify(
        cache.path(),
        &[
            &renamed,
            "--version",
            GO_VERSION,
            "--os",
            "linux",
            "--arch",
            "amd64",
        ],
    );
    assert_verified(&out, linux_record);

    // Files the module leaves out are not covered: changing one changes nothing.
    let mut doc_changed = release_files("linux", "amd64");
    for (rel, data) in &mut doc_changed {
        if rel == "doc/go_spec.html" {
            data.extend_from_slice(b"edited\n");
        }
    }
    let tgz = forms.tar_gz("doc", &tgz_name("linux", "amd64"), &doc_changed);
    assert_verified(&w.verify(cache.path(), &[&tgz]), linux_record);

    // --json for scripts.
    let out = w.verify(cache.path(), &["--goroot", &root, "--json"]);
    assert_exit(&out, 0);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON on stdout");
    assert_eq!(v["verified"], true);
    assert_eq!(v["input_kind"], "goroot");
    assert_eq!(v["version"], linux.version.as_str());
    assert_eq!(v["h1"], linux.zip_h1.as_str());
    assert_eq!(v["checksum_db"]["name"], DB_NAME);
    assert_eq!(v["checksum_db"]["record"], linux_record);
    assert_eq!(v["checksum_db"]["record_h1"], linux.zip_h1.as_str());
    assert_eq!(v["checksum_db"]["proven"], "online");
    assert!(v["checksum_db"]["tree_size"].as_u64().unwrap() > linux_record);
    assert_eq!(v["not_covered"], 4);
    assert_eq!(v["files"], 10);
}

/// One changed, one missing and one extra file: exit 1, each named, in every form.
#[test]
fn verify_toolchain_names_changed_missing_and_extra_files() {
    let w = world(&[("linux", "amd64"), ("windows", "amd64")]);
    let cache = tempfile::tempdir().unwrap();
    let forms = Forms::new();

    let tgz = forms.tar_gz(
        "bad",
        &tgz_name("linux", "amd64"),
        &tampered_files("linux", "amd64"),
    );
    let out = w.verify(cache.path(), &[&tgz]);
    assert_exit(&out, 1);
    for line in [
        "NOT VERIFIED: ",
        "changed:   go/bin/go\n",
        "missing:   go/pkg/tool/linux_amd64/compile\n",
        "extra:     go/bin/evil\n",
    ] {
        assert!(out.stdout.contains(line), "lacks {line:?}\n{}", out.dump());
    }
    assert_eq!(out.stdout.matches("changed:").count(), 1, "{}", out.dump());
    assert_eq!(out.stdout.matches("missing:").count(), 1, "{}", out.dump());
    assert_eq!(out.stdout.matches("extra:").count(), 1, "{}", out.dump());

    let zip = forms.zip(
        "bad",
        &format!("{GO_VERSION}.windows-amd64.zip"),
        &tampered_files("windows", "amd64"),
    );
    let out = w.verify(cache.path(), &[&zip]);
    assert_exit(&out, 1);
    for line in [
        "changed:   go/bin/go.exe\n",
        "missing:   go/pkg/tool/windows_amd64/compile.exe\n",
        "extra:     go/bin/evil.exe\n",
    ] {
        assert!(out.stdout.contains(line), "lacks {line:?}\n{}", out.dump());
    }

    let root = forms.goroot("bad", &tampered_files("linux", "amd64"));
    // With its only pkg/tool/OS_ARCH gone, the tree no longer says its platform.
    let out = w.verify(cache.path(), &["--goroot", &root]);
    assert_exit(&out, 2);
    assert!(
        out.stderr.contains("pass --os and --arch"),
        "{}",
        out.dump()
    );
    let out = w.verify(
        cache.path(),
        &[
            "--goroot", &root, "--os", "linux", "--arch", "amd64", "--json",
        ],
    );
    assert_exit(&out, 1);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON on stdout");
    assert_eq!(v["verified"], false);
    assert_eq!(v["differences"]["changed"], serde_json::json!(["bin/go"]));
    assert_eq!(
        v["differences"]["missing"],
        serde_json::json!(["pkg/tool/linux_amd64/compile"])
    );
    assert_eq!(v["differences"]["extra"], serde_json::json!(["bin/evil"]));

    // A missing go.mod is named as the release names it.
    let mut no_gomod = release_files("linux", "amd64");
    no_gomod.retain(|(rel, _)| rel != "src/cmd/go.mod");
    let root = forms.goroot("nogomod", &no_gomod);
    let out = w.verify(cache.path(), &["--goroot", &root]);
    assert_exit(&out, 1);
    assert!(
        out.stdout.contains("missing:   src/cmd/go.mod\n"),
        "{}",
        out.dump()
    );

    // A symlink no release has fails even if every file matches.
    #[cfg(unix)]
    {
        let root = forms.goroot("link", &release_files("linux", "amd64"));
        std::os::unix::fs::symlink("/bin/sh", Path::new(&root).join("bin/sh")).unwrap();
        let out = w.verify(cache.path(), &["--goroot", &root]);
        assert_exit(&out, 1);
        assert!(
            out.stdout.contains("problem:   bin/sh: a symbolic link"),
            "{}",
            out.dump()
        );
    }

    // The module zip itself, tampered: refused by the module-zip rules or by its h1.
    let bad = prepare_toolchain(toolchain_zip(
        "linux",
        "amd64",
        &tampered_files("linux", "amd64"),
    ));
    let modzip = forms.module_zip(&bad);
    let out = w.verify(cache.path(), &[&modzip]);
    assert_exit(&out, 1);
    assert!(out.stdout.contains("changed:   bin/go\n"), "{}", out.dump());
}

/// `--offline` proves from what an earlier online run cached, with no upstream at all, and
/// says what is missing when the cache lacks it.
#[test]
fn verify_toolchain_offline_uses_only_goward_cache() {
    let w = world(&[("linux", "amd64"), ("windows", "amd64")]);
    let cache = tempfile::tempdir().unwrap();
    let forms = Forms::new();
    let linux = w.toolchain("linux", "amd64").clone();
    let tgz = forms.tar_gz(
        "ok",
        &tgz_name("linux", "amd64"),
        &release_files("linux", "amd64"),
    );
    let bad = forms.tar_gz(
        "bad",
        &tgz_name("linux", "amd64"),
        &tampered_files("linux", "amd64"),
    );

    // An empty cache cannot prove anything offline, and is not created.
    let empty = cache.path().join("never-used");
    let empty_s = empty.display().to_string();
    let out = run_goward(&[
        "verify-toolchain",
        &tgz,
        "--offline",
        "--sumdb",
        &w.vkey,
        "--cache-dir",
        &empty_s,
    ]);
    assert_exit(&out, 2);
    assert!(
        out.stderr.contains("offline") && out.stderr.contains("no trusted tree head"),
        "{}",
        out.dump()
    );
    assert!(!empty.exists(), "--offline created the cache dir");

    // Online: the matching archive, then the tampered one (which fetches and caches the
    // module zip for the per-file report).
    assert_verified(&w.verify(cache.path(), &[&tgz]), linux.record.unwrap());
    assert_exit(&w.verify(cache.path(), &[&bad]), 1);

    let vkey = w.vkey.clone();
    let url = w.fake.url();
    drop(w);
    let c = cache.path().display().to_string();
    // Offline, the configured upstream is a listener no connection may reach.
    let trap = Trap::new();
    let trap_url = trap.url();
    let offline = |args: &[&str]| {
        let mut full = vec!["verify-toolchain"];
        full.extend_from_slice(args);
        full.extend_from_slice(&[
            "--offline",
            "--upstream",
            &trap_url,
            "--sumdb",
            &vkey,
            "--cache-dir",
            &c,
        ]);
        run_goward(&full)
    };
    let out = offline(&[&tgz]);
    assert_exit(&out, 0);
    assert!(out.stdout.contains("proven offline"), "{}", out.dump());
    let out = offline(&[&bad]);
    assert_exit(&out, 1);
    assert!(
        out.stdout.contains("changed:   go/bin/go\n"),
        "{}",
        out.dump()
    );
    assert!(
        out.stdout.contains("extra:     go/bin/evil\n"),
        "{}",
        out.dump()
    );

    // Online with the upstream gone still proves from the cached lookup and tiles.
    let out = run_goward(&[
        "verify-toolchain",
        &tgz,
        "--upstream",
        &url,
        "--sumdb",
        &vkey,
        "--cache-dir",
        &c,
    ]);
    assert_exit(&out, 0);

    // A toolchain the cache never proved.
    let zip = forms.zip(
        "ok",
        &format!("{GO_VERSION}.windows-amd64.zip"),
        &release_files("windows", "amd64"),
    );
    let out = offline(&[&zip]);
    assert_exit(&out, 2);
    assert!(
        out.stderr.contains("offline") && out.stderr.contains("no proven lookup"),
        "{}",
        out.dump()
    );

    // A cache with the lookup but without the tiles it needs names what is missing.
    let tiles = cache.path().join("sumdb").join(DB_NAME).join("tile");
    std::fs::remove_dir_all(&tiles).unwrap();
    let out = offline(&[&tgz, "--json"]);
    assert_exit(&out, 2);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON on stdout");
    let e = v["error"].as_str().unwrap_or_default();
    assert!(
        e.contains("offline") && e.contains("tile/"),
        "error does not name the missing tile: {e}"
    );
    trap.assert_untouched();
}

/// `--sha256` and `--dl-json` check the whole archive as well.
#[test]
fn verify_toolchain_checks_the_whole_file_sha256() {
    use sha2::Digest as _;
    let w = world(&[("linux", "amd64")]);
    let cache = tempfile::tempdir().unwrap();
    let forms = Forms::new();
    let record = w.toolchain("linux", "amd64").record.unwrap();
    let name = tgz_name("linux", "amd64");
    let tgz = forms.tar_gz("ok", &name, &release_files("linux", "amd64"));
    let sha: String = sha2::Sha256::digest(std::fs::read(&tgz).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();

    let out = w.verify(cache.path(), &[&tgz, "--sha256", &sha]);
    assert_verified(&out, record);
    assert!(
        out.stdout.contains(&format!("{sha} matches")),
        "{}",
        out.dump()
    );

    let wrong = "0".repeat(64);
    let out = w.verify(cache.path(), &[&tgz, "--sha256", &wrong]);
    assert_exit(&out, 1);
    assert!(out.stdout.contains("DIFFERS"), "{}", out.dump());

    let doc = forms.path("dl.json");
    std::fs::write(
        &doc,
        format!(
            "[\n {{\n  \"version\": \"{GO_VERSION}\",\n  \"stable\": true,\n  \"files\": [\n   {{\"filename\": \"{name}\", \"os\": \"linux\", \"arch\": \"amd64\", \"version\": \"{GO_VERSION}\", \"sha256\": \"{sha}\", \"size\": 1, \"kind\": \"archive\"}}\n  ]\n }}\n]\n"
        ),
    )
    .unwrap();
    let doc = doc.display().to_string();
    assert_verified(&w.verify(cache.path(), &[&tgz, "--dl-json", &doc]), record);
    let other = forms.tar_gz(
        "other",
        &tgz_name("linux", "arm64"),
        &release_files("linux", "arm64"),
    );
    let out = w.verify(cache.path(), &[&other, "--dl-json", &doc]);
    assert_exit(&out, 2);
    assert!(out.stderr.contains("lists no file named"), "{}", out.dump());
}

/// A release the checksum DB does not know, and a record without the zip's line, fail.
#[test]
fn verify_toolchain_refuses_unknown_and_unproven_toolchains() {
    let w = world(&[("linux", "amd64")]);
    let cache = tempfile::tempdir().unwrap();
    let forms = Forms::new();
    // linux/arm64 is not in the checksum DB at all.
    let tgz = forms.tar_gz(
        "arm64",
        &tgz_name("linux", "arm64"),
        &release_files("linux", "arm64"),
    );
    let out = w.verify(cache.path(), &[&tgz]);
    assert_exit(&out, 1);
    assert!(
        out.stdout.contains("is not in checksum database"),
        "{}",
        out.dump()
    );

    // CVE-2026-42501: darwin/arm64's record names only its go.mod.
    let p = prepare_toolchain(toolchain_zip(
        "darwin",
        "arm64",
        &release_files("darwin", "arm64"),
    ));
    w.fake.serve(&p);
    w.fake.log_record(
        &p.path,
        &p.version,
        &format!("{} {}/go.mod {}\n", p.path, p.version, p.mod_h1),
    );
    let tgz = forms.tar_gz(
        "darwin",
        &tgz_name("darwin", "arm64"),
        &release_files("darwin", "arm64"),
    );
    let out = w.verify(cache.path(), &[&tgz, "--json"]);
    assert_exit(&out, 1);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON on stdout");
    assert_eq!(v["verified"], false);
    assert!(
        v["error"]
            .as_str()
            .unwrap_or_default()
            .contains("CVE-2026-42501"),
        "{}",
        out.dump()
    );
    assert_eq!(v["checksum_db"]["record_h1"], serde_json::Value::Null);
}

/// The policy's `[toolchain]` rules apply to `GOTOOLCHAIN` switches through goward: a
/// toolchain below the minimum version is answered 403 with the rule's reason, which the go
/// command shows, and goward never fetches it.
#[test]
fn toolchain_denied_by_policy_fails_go_with_the_reason() {
    let (goos, goarch) = host_platform();
    let w = world(&[(goos.as_str(), goarch.as_str()), ("linux", "amd64")]);
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "[toolchain]\nmin_version = \"go1.100.0\"\n").expect("write policy");
    let g = Goward::start(
        &w.fake.url(),
        &w.vkey,
        &["--policy", policy.to_str().expect("utf-8 path")],
    );
    let env = switch_env(&g, &w.vkey);
    let out = env.go(&["version"]);
    make_writable(&env.modcache());
    assert!(!out.success(), "the denied toolchain ran:\n{}", out.dump());
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(
        all.contains("denied by policy rule") && all.contains("older than the minimum go1.100.0"),
        "go did not show the policy's reason:\n{}",
        out.dump()
    );
    let host = w.toolchain(&goos, &goarch);
    assert_eq!(
        w.fake.requests(&host.zip_path()),
        0,
        "{:?}",
        w.fake.request_log()
    );
    let r = g.get(&host.zip_path());
    assert_eq!(r.status, 403, "{}", r.text());
    assert_no_toolchain_zip_cached(&g, &host.version);
}

/// `[toolchain]` requiring a signature (an organisation re-signing the toolchains it approved)
/// on top of the checksum database: an unsigned toolchain or one signed by another key makes
/// the go command fail with goward's reason and nothing is cached; signed, it runs.
#[test]
fn toolchain_requiring_a_signature_runs_only_when_signed() {
    use crate::signature::policy_e2e::Key;
    let (goos, goarch) = host_platform();
    let w = world(&[(goos.as_str(), goarch.as_str()), ("linux", "amd64")]);
    let host = w.toolchain(&goos, &goarch).clone();
    let dir = tempfile::tempdir().expect("tempdir");
    let (org, other) = (Key::new(), Key::new());
    std::fs::write(dir.path().join("org.pub"), &org.pem).expect("key");
    let sigs = dir.path().join("sigs");
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "[[signer]]\nname = \"org\"\nkey = \"org.pub\"\n\n\
             [toolchain]\nproof = [\"sumdb\", \"signature\"]\nsigners = \"org\"\n\
             signatures = \"file://{}/{{module}}/@v/{{version}}{{file}}.sig\"\n",
            sigs.to_str().expect("utf-8 path")
        ),
    )
    .expect("write policy");
    let sig_path = sigs
        .join(MODULE)
        .join("@v")
        .join(format!("{}.zip.sig", host.version));
    std::fs::create_dir_all(sig_path.parent().expect("parent")).expect("mkdir");
    let g = Goward::start(
        &w.fake.url(),
        &w.vkey,
        &["--policy", policy.to_str().expect("utf-8 path")],
    );
    for (sig, reason) in [
        (None, "no signature at file://"),
        (
            Some(other.sign(&host.zip)),
            "not signed by signer \"org\": bad signature",
        ),
    ] {
        if let Some(sig) = sig {
            std::fs::write(&sig_path, sig).expect("signature");
        }
        let env = switch_env(&g, &w.vkey);
        let out = env.go(&["version"]);
        make_writable(&env.modcache());
        assert_refused_by_goward(&out, "signature required by policy rule \"toolchain\"");
        assert_refused_by_goward(&out, reason);
        assert_no_toolchain_zip_cached(&g, &host.version);
    }
    std::fs::write(&sig_path, org.sign(&host.zip)).expect("signature");
    let env = switch_env(&g, &w.vkey);
    let out = env.go(&["version"]);
    make_writable(&env.modcache());
    out.assert_success();
    assert_eq!(out.stdout.trim(), MARKER, "{}", out.dump());
    let meta = g
        .cache_dir()
        .join("meta")
        .join(MODULE)
        .join("@v")
        .join(format!("{}.zip.json", host.version));
    let record = std::fs::read_to_string(&meta).expect("record");
    let v: serde_json::Value = serde_json::from_str(&record).expect("json");
    let kinds: Vec<&str> = v["proofs"]
        .as_array()
        .expect("proofs")
        .iter()
        .filter_map(|p| p["type"].as_str())
        .collect();
    assert_eq!(kinds, ["sumdb", "signature"], "{record}");
}
