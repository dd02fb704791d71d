//! goward benchmark: what the real `go` command pays for going through goward, goward's peak
//! memory while serving a 400 MiB module zip, and `h1:` hashing throughput. See bench/README.md.
//!
//! A measurement, not a test: a missed target prints MISS and the run still exits 0; any error
//! (a failed download, a wrong hash, a goward that does not start) exits non-zero.
//!
//! Everything runs on 127.0.0.1: the fake upstream and checksum database of the integration
//! tests (tests/it/support), the release `goward` binary, and the real `go` command in hermetic
//! environments.
//!
//! Settings (environment): `BENCH_RUNS` (timed runs per arm, default 5), `BENCH_MODULES` (module
//! versions in the graph, default 210), `BENCH_BIG_MIB` (size of the big zip's content, default
//! 400), `BENCH_CLIENTS` (concurrent clients of the big zip, default 4), `BENCH_GOSUMDB` (`key`,
//! the default: the fake database's verifier key, or `off`), `BENCH_FILLERS` (extra records in
//! the checksum database before the graph's, default 1000), `BENCH_BUNDLE_VERSIONS` and
//! `BENCH_BUNDLE_KIB` (the air-gap section: module versions, default 2000, and KiB of data in
//! each, default 32). `BENCH_S3_ONLY=1` or `BENCH_BUNDLE_ONLY=1` runs one section alone.
//! `BENCH_COMPARE=label=path,...` runs only the warm arm over several goward builds
//! (`compare_bench`), with `BENCH_HOOK` around each timed run.

// The integration tests' harness, unchanged. `cargo check`/`clippy --all-targets` compile this
// target with `cfg(test)` but without the test harness, which leaves the helpers' unit-test
// imports unused.
#[path = "../tests/it/support/mod.rs"]
#[allow(unused_imports)]
mod support;

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use support::Goward;
use support::fakeproxy::{FakeProxy, Module, Published, escape};
use support::gocmd::GoEnv;
use support::modzip::{ModZip, h1_mod};
use support::testlog::TestLog;

const DB_NAME: &str = "sum.goward.bench";
const WARM_TARGET: f64 = 1.3;
const COLD_TARGET: f64 = 1.2;
const RSS_TARGET_MIB: f64 = 64.0;
/// Modules of the graph whose zips carry ~1 MiB of incompressible test data.
const LARGER_MODULES: usize = 6;
const HASH_RUNS: usize = 3;

fn main() -> ExitCode {
    // `cargo bench` passes `--bench`; there are no other arguments.
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

struct Settings {
    runs: usize,
    modules: usize,
    big_mib: u64,
    clients: usize,
    sumdb_off: bool,
    fillers: u64,
}

fn env_num(name: &str, default: u64) -> Result<u64> {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().with_context(|| format!("{name}={v:?}")),
        Err(_) => Ok(default),
    }
}

impl Settings {
    fn from_env() -> Result<Settings> {
        let s = Settings {
            runs: env_num("BENCH_RUNS", 5)? as usize,
            modules: env_num("BENCH_MODULES", 210)? as usize,
            big_mib: env_num("BENCH_BIG_MIB", 400)?,
            clients: env_num("BENCH_CLIENTS", 4)? as usize,
            sumdb_off: match std::env::var("BENCH_GOSUMDB").as_deref() {
                Ok("off") => true,
                Ok("key") | Err(_) => false,
                Ok(other) => bail!("BENCH_GOSUMDB must be `key` or `off`, not {other:?}"),
            },
            fillers: env_num("BENCH_FILLERS", 1000)?,
        };
        ensure!(s.runs >= 1, "BENCH_RUNS must be at least 1");
        ensure!(
            s.modules >= 1 && s.modules <= 1000,
            "BENCH_MODULES must be 1..=1000"
        );
        ensure!(
            s.big_mib >= 1 && s.big_mib <= 490,
            "BENCH_BIG_MIB must be 1..=490 (module zips are capped at 500 MiB)"
        );
        ensure!(
            s.clients >= 1 && s.clients <= 16,
            "BENCH_CLIENTS must be 1..=16"
        );
        Ok(s)
    }
}

fn run() -> Result<()> {
    let settings = Settings::from_env()?;
    let started = Instant::now();
    let bin = support::goward_bin();
    println!("goward benchmark");
    println!("  goward binary: {}", bin.display());
    if !bin.components().any(|c| c.as_os_str() == "release") {
        println!("  WARNING: this does not look like a release build");
    }
    let go = support::gocmd::go_binary();
    let go_version = std::process::Command::new(&go)
        .arg("version")
        .env("GOTOOLCHAIN", "local")
        .output()
        .with_context(|| format!("running {} version", go.display()))?;
    println!(
        "  go: {}",
        String::from_utf8_lossy(&go_version.stdout).trim()
    );
    println!(
        "  machine: {} CPUs; {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model()
    );

    if let Ok(spec) = std::env::var("BENCH_COMPARE") {
        return compare_bench(&settings, &spec);
    }
    let mut report = Report::default();
    // BENCH_S3_ONLY=1: only the shared-store section (s3_bench); BENCH_BUNDLE_ONLY=1: only
    // the air-gap section (bundle_bench).
    let only = |name: &str| std::env::var(name).is_ok_and(|v| v == "1");
    let (s3_only, bundle_only) = (only("BENCH_S3_ONLY"), only("BENCH_BUNDLE_ONLY"));
    if !s3_only && !bundle_only {
        graph_bench(&settings, &mut report)?;
    }
    if !bundle_only {
        let big = BigZip::generate(settings.big_mib)?;
        if !s3_only {
            big_zip_bench(&settings, &big, &mut report)?;
            hash_bench(&big, &mut report)?;
        }
        s3_bench(&settings, &big, &mut report)?;
        drop(big);
    }
    if !s3_only {
        bundle_bench(&mut report)?;
    }

    println!();
    println!("summary                                        measured   target   result");
    for line in &report.summary {
        println!("  {line}");
    }
    println!();
    println!("total bench time {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

#[derive(Default)]
struct Report {
    summary: Vec<String>,
}

impl Report {
    fn ratio(&mut self, what: &str, value: f64, target: f64) {
        let verdict = if value <= target { "PASS" } else { "MISS" };
        self.summary.push(format!(
            "{what:<44} {value:>7.2}×  ≤ {target:.2}×   {verdict}"
        ));
    }

    fn rss(&mut self, what: &str, mib: f64, target: Option<f64>) {
        match target {
            Some(t) => {
                let verdict = if mib < t { "PASS" } else { "MISS" };
                self.summary.push(format!(
                    "{what:<44} {mib:>6.1} MiB  < {t:.0} MiB   {verdict}"
                ));
            }
            None => self
                .summary
                .push(format!("{what:<44} {mib:>6.1} MiB  (no target)")),
        }
    }

    fn info(&mut self, what: &str, value: String) {
        self.summary
            .push(format!("{what:<44} {value:>10}  (no target)"));
    }
}

// ---------------------------------------------------------------------------------------------
// The module graph and `go mod download`.
// ---------------------------------------------------------------------------------------------

/// One of the four ways the go command gets the graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Arm {
    FileWarm,
    GowardWarm,
    DirectCold,
    RelayCold,
    GowardCold,
}

impl Arm {
    const ALL: [Arm; 5] = [
        Arm::FileWarm,
        Arm::GowardWarm,
        Arm::DirectCold,
        Arm::RelayCold,
        Arm::GowardCold,
    ];

    fn label(self) -> &'static str {
        match self {
            Arm::FileWarm => "warm  GOPROXY=file:// (same files)",
            Arm::GowardWarm => "warm  goward, cache filled",
            Arm::DirectCold => "cold  GOPROXY=<fake upstream>",
            Arm::RelayCold => "cold  zero-work relay -> fake upstream",
            Arm::GowardCold => "cold  goward, empty cache",
        }
    }
}

struct Graph {
    mods: Vec<Published>,
    root_go_mod: String,
    zip_bytes: u64,
}

/// Deterministic pseudo-random bytes (xorshift64*): incompressible and fast.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn fill(&mut self, buf: &mut [u8]) {
        let mut chunks = buf.chunks_exact_mut(8);
        for c in &mut chunks {
            c.copy_from_slice(&self.next().to_le_bytes());
        }
        let rest = chunks.into_remainder();
        let last = self.next().to_le_bytes();
        rest.copy_from_slice(&last[..rest.len()]);
    }
}

fn mod_path(i: usize) -> String {
    format!("example.com/bench/m{i:03}")
}

/// A few KiB of Go source: a package with some functions.
fn go_source(i: usize) -> String {
    let mut s = format!(
        "// Package m{i:03} is module {i} of the goward benchmark graph.\npackage m{i:03}\n\n"
    );
    for f in 0..24 {
        let _ = write!(
            s,
            "// F{f} returns a number derived from {i} and {f}; it exists to give the\n\
             // package a realistic size.\n\
             func F{f}(x int) int {{\n\tif x < 0 {{\n\t\treturn -x * {f}\n\t}}\n\treturn x*{i} + {f}\n}}\n\n"
        );
    }
    s
}

fn generate_graph(fake: &FakeProxy, n: usize) -> Graph {
    let mut mods = Vec::with_capacity(n);
    let mut zip_bytes = 0u64;
    for i in 0..n {
        let path = mod_path(i);
        let mut go_mod = format!("module {path}\n\ngo 1.21\n");
        // A graph, not a flat list: most modules depend on one of the first ten.
        if i >= 10 {
            let _ = write!(go_mod, "\nrequire {} v1.0.0\n", mod_path(i % 10));
        }
        let mut z = ModZip::new(&path, "v1.0.0")
            .file(&format!("m{i:03}.go"), go_source(i))
            .file("README.md", format!("# m{i:03}\n\nBenchmark module {i}.\n"));
        if i < LARGER_MODULES {
            let mut blob = vec![0u8; 1 << 20];
            Rng::new(i as u64 + 1).fill(&mut blob);
            z = z.file("testdata/blob.bin", blob);
        }
        let p = fake.publish(z, &go_mod);
        zip_bytes += p.zip.len() as u64;
        mods.push(p);
    }
    let mut root = String::from("module example.com/bench/root\n\ngo 1.21\n\nrequire (\n");
    for p in &mods {
        let _ = writeln!(root, "\t{} {}", p.path, p.version);
    }
    root.push_str(")\n");
    Graph {
        mods,
        root_go_mod: root,
        zip_bytes,
    }
}

/// Lays out the graph as `$GOMODCACHE/cache/download` does, for `GOPROXY=file://`; with a
/// checksum database, also `sumdb/<name>/{supported,latest,lookup/…,tile/…}` as a proxy serves
/// them.
fn write_file_proxy(dir: &Path, graph: &Graph, log: &TestLog, with_sumdb: bool) -> Result<()> {
    for p in &graph.mods {
        let v = dir.join(escape(&p.path)).join("@v");
        std::fs::create_dir_all(&v)?;
        let ev = escape(&p.version);
        std::fs::write(v.join("list"), format!("{}\n", p.version))?;
        std::fs::write(
            v.join(format!("{ev}.info")),
            support::fakeproxy::default_info(&p.version),
        )?;
        std::fs::write(v.join(format!("{ev}.mod")), &p.mod_bytes)?;
        std::fs::write(v.join(format!("{ev}.zip")), &p.zip)?;
    }
    if with_sumdb {
        let db = dir.join("sumdb").join(log.name());
        let put = |rel: &str| -> Result<()> {
            let (status, body) = log.serve(rel);
            ensure!(status == 200, "checksum DB answered {status} for {rel}");
            let path = db.join(rel);
            std::fs::create_dir_all(path.parent().context("sumdb path")?)?;
            std::fs::write(&path, body)?;
            Ok(())
        };
        put("supported")?;
        put("latest")?;
        for p in &graph.mods {
            put(&format!(
                "lookup/{}@{}",
                escape(&p.path),
                escape(&p.version)
            ))?;
        }
        for t in goward::xmod::tlog::new_tiles(support::testlog::TILE_HEIGHT, 0, log.size()) {
            put(&t.path())?;
        }
    }
    Ok(())
}

/// One timed `go mod download` of the whole graph in a fresh module cache.
/// Directories of finished runs, deleted only after the last timed run: on ext4 without a
/// journal (this project's machines), deleting thousands of files makes every file created in
/// the next ~30 s scan past the recently deleted inodes (`recently_deleted()` in the inode
/// allocator). `perf` showed most of the go command's and goward's CPU time there, growing round
/// by round, when each run's module cache was deleted as soon as it finished.
#[derive(Default)]
struct Leftovers {
    envs: Vec<GoEnv>,
    gowards: Vec<Goward>,
}

fn go_mod_download(
    proxy: &str,
    gosumdb: &str,
    graph: &Graph,
    keep: &mut Leftovers,
) -> Result<Duration> {
    let env = GoEnv::new(proxy, gosumdb);
    env.write("go.mod", &graph.root_go_mod);
    let t = Instant::now();
    let out = env.go(&["mod", "download"]);
    let elapsed = t.elapsed();
    if !out.success() {
        bail!(
            "`go mod download` via {proxy} failed ({})\n{}",
            out.status,
            out.dump()
        );
    }
    // Every zip must be in the module cache: the run really downloaded the graph.
    for p in &graph.mods {
        let zip = env
            .download_dir(&escape(&p.path))
            .join(format!("{}.zip", escape(&p.version)));
        ensure!(
            zip.is_file(),
            "`go mod download` via {proxy} left out {}",
            zip.display()
        );
    }
    keep.envs.push(env);
    Ok(elapsed)
}

/// The fake upstream and checksum database with the graph published in
/// them, as every graph arm starts.
struct Fixture {
    fake: FakeProxy,
    /// The database's verifier key.
    vkey: String,
    graph: Graph,
    /// What the go command gets as GOSUMDB (`off` with BENCH_GOSUMDB=off).
    gosumdb: String,
    /// How long generating and publishing the graph took.
    generated: Duration,
}

fn publish_graph(s: &Settings) -> Fixture {
    let mut log = TestLog::new(DB_NAME);
    log.add_fillers(s.fillers);
    let vkey = log.vkey();
    let fake = FakeProxy::start(log);
    let t = Instant::now();
    let graph = generate_graph(&fake, s.modules);
    let generated = t.elapsed();
    let gosumdb = if s.sumdb_off {
        "off".to_owned()
    } else {
        vkey.clone()
    };
    Fixture {
        fake,
        vkey,
        graph,
        gosumdb,
        generated,
    }
}

fn graph_bench(s: &Settings, report: &mut Report) -> Result<()> {
    let Fixture {
        fake,
        vkey,
        graph,
        gosumdb,
        generated,
    } = publish_graph(s);
    let log = fake.log_snapshot();
    println!();
    println!(
        "module graph: {} module versions example.com/bench/mNNN@v1.0.0 required by one root module",
        graph.mods.len()
    );
    println!(
        "  zips: {:.1} MiB in all ({} with 1 MiB of random test data, the rest 1-2 KiB); generated in {:.1} s",
        to_mib(graph.zip_bytes),
        LARGER_MODULES.min(s.modules),
        generated.as_secs_f64()
    );
    println!(
        "  checksum DB {DB_NAME}: {} records ({} fillers); goward proves every .mod and .zip in it",
        log.size(),
        s.fillers
    );
    println!(
        "  GOSUMDB={} in every arm{}",
        if s.sumdb_off {
            "off"
        } else {
            "<the fake DB's verifier key>"
        },
        if s.sumdb_off {
            ""
        } else {
            " (no go.sum: the go command looks up every module itself, through the same proxy)"
        }
    );

    let files = tempfile::Builder::new()
        .prefix("goward-bench-fileproxy-")
        .tempdir()?;
    write_file_proxy(files.path(), &graph, &log, !s.sumdb_off)?;
    let file_url = format!("file://{}", files.path().display());

    // Warm goward: fill its cache with one (untimed) download, then restart it so its peak RSS
    // covers the warm runs only.
    let warm_cache = tempfile::Builder::new()
        .prefix("goward-bench-warm-")
        .tempdir()?;
    let mut keep = Leftovers::default();
    let mut warm = Goward::start_in(warm_cache.path(), &fake.url(), &vkey, &[]);
    go_mod_download(warm.url(), &gosumdb, &graph, &mut keep).context("filling goward's cache")?;
    warm.restart();

    let probe = probe_latencies(&fake, &vkey, warm.url(), &graph, &log)?;

    // Untimed warm-up of the other arms (page cache, go binary).
    go_mod_download(&file_url, &gosumdb, &graph, &mut keep).context("warm-up via file://")?;
    go_mod_download(&fake.url(), &gosumdb, &graph, &mut keep)
        .context("warm-up via the fake upstream")?;
    let relay = Relay::start(&fake.url())?;
    go_mod_download(&relay.url(), &gosumdb, &graph, &mut keep)
        .context("warm-up via the zero-work relay")?;

    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); Arm::ALL.len()];
    let mut cold_hwm: Vec<u64> = Vec::new();
    let mut cold_upstream: Vec<usize> = Vec::new();
    let mut warm_upstream: Vec<usize> = Vec::new();
    let mut warm_cpu: Vec<Duration> = Vec::new();
    let mut cold_cpu: Vec<Duration> = Vec::new();
    println!();
    println!("timing {} runs per arm, arms interleaved", s.runs);
    for round in 0..s.runs {
        // Rotate the order so no arm always runs first or last.
        for k in 0..Arm::ALL.len() {
            let idx = (k + round) % Arm::ALL.len();
            let arm = Arm::ALL[idx];
            let d = match arm {
                Arm::FileWarm => go_mod_download(&file_url, &gosumdb, &graph, &mut keep)?,
                Arm::GowardWarm => {
                    fake.reset_requests();
                    let cpu0 = proc_cpu(pid(&warm)?)?;
                    let d = go_mod_download(warm.url(), &gosumdb, &graph, &mut keep)?;
                    warm_cpu.push(proc_cpu(pid(&warm)?)?.saturating_sub(cpu0));
                    warm_upstream.push(fake.request_log().len());
                    d
                }
                Arm::DirectCold => go_mod_download(&fake.url(), &gosumdb, &graph, &mut keep)?,
                Arm::RelayCold => go_mod_download(&relay.url(), &gosumdb, &graph, &mut keep)?,
                Arm::GowardCold => {
                    let mut g = Goward::start(&fake.url(), &vkey, &[]);
                    fake.reset_requests();
                    let d = go_mod_download(g.url(), &gosumdb, &graph, &mut keep)?;
                    cold_upstream.push(fake.request_log().len());
                    cold_hwm.push(proc_kib(pid(&g)?, "VmHWM")?);
                    cold_cpu.push(proc_cpu(pid(&g)?)?);
                    g.kill_hard();
                    keep.gowards.push(g);
                    d
                }
            };
            times[idx].push(d);
        }
        println!(
            "  round {}: {}",
            round + 1,
            Arm::ALL
                .iter()
                .zip(&times)
                .map(|(a, t)| format!("{:?} {:.2} s", a, t[round].as_secs_f64()))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    drop(keep);
    let warm_hwm = proc_kib(pid(&warm)?, "VmHWM")?;
    let warm_rss = proc_kib(pid(&warm)?, "VmRSS")?;

    println!();
    println!("go mod download of the graph                median      min      max   goward VmHWM");
    for (arm, t) in Arm::ALL.iter().zip(&times) {
        let hwm = match arm {
            Arm::GowardWarm => format!("{:>8.1} MiB", kib_mib(warm_hwm)),
            Arm::GowardCold => format!(
                "{:>8.1} MiB (max of {} processes)",
                kib_mib(cold_hwm.iter().copied().max().unwrap_or(0)),
                cold_hwm.len()
            ),
            _ => String::new(),
        };
        println!(
            "  {:<40} {:>6.3} s {:>6.3} s {:>6.3} s {hwm}",
            arm.label(),
            median(t).as_secs_f64(),
            t.iter().min().copied().unwrap_or_default().as_secs_f64(),
            t.iter().max().copied().unwrap_or_default().as_secs_f64(),
        );
    }
    println!(
        "  upstream requests per run (median): goward cold {}, goward warm {}; warm goward VmRSS at the end {:.1} MiB",
        median_usize(&cold_upstream),
        median_usize(&warm_upstream),
        kib_mib(warm_rss)
    );
    println!(
        "  goward CPU time per run (user+system, median): warm {:.3} s, cold {:.3} s (start-up included)",
        median(&warm_cpu).as_secs_f64(),
        median(&cold_cpu).as_secs_f64()
    );
    println!();
    println!("{probe}");
    let m = |a: Arm| median(&times[Arm::ALL.iter().position(|x| *x == a).unwrap_or(0)]);
    let warm_ratio = m(Arm::GowardWarm).as_secs_f64() / m(Arm::FileWarm).as_secs_f64();
    let cold_ratio = m(Arm::GowardCold).as_secs_f64() / m(Arm::DirectCold).as_secs_f64();
    println!();
    println!("  warm ratio goward / file://        {warm_ratio:.2}×  (target ≤ {WARM_TARGET}×)");
    println!("  cold ratio goward / fake upstream  {cold_ratio:.2}×  (target ≤ {COLD_TARGET}×)");
    // The floor for any HTTP proxy: the fake upstream answers from memory and does no work, so
    // its ratio to file:// is the go command's own cost of HTTP over reading files.
    let floor = m(Arm::DirectCold).as_secs_f64() / m(Arm::FileWarm).as_secs_f64();
    let warm_vs_http = m(Arm::GowardWarm).as_secs_f64() / m(Arm::DirectCold).as_secs_f64();
    println!(
        "  zero-work HTTP server (fake upstream) / file://   {floor:.2}×  (the go client's HTTP cost)"
    );
    println!("  warm goward / zero-work HTTP server               {warm_vs_http:.2}×");
    // The floor for the cold ratio: a proxy that forwards every request and does nothing else.
    let relay_floor = m(Arm::RelayCold).as_secs_f64() / m(Arm::DirectCold).as_secs_f64();
    let cold_vs_relay = m(Arm::GowardCold).as_secs_f64() / m(Arm::RelayCold).as_secs_f64();
    println!(
        "  zero-work relay / fake upstream                   {relay_floor:.2}×  (the cost of one more hop)"
    );
    println!("  cold goward / zero-work relay                     {cold_vs_relay:.2}×");
    report.ratio(
        "warm go mod download: goward / file://",
        warm_ratio,
        WARM_TARGET,
    );
    report.ratio(
        "cold go mod download: goward / upstream",
        cold_ratio,
        COLD_TARGET,
    );
    report.info(
        "floor: zero-work HTTP server / file://",
        format!("{floor:.2}×"),
    );
    report.info(
        "warm goward / zero-work HTTP server",
        format!("{warm_vs_http:.2}×"),
    );
    report.info(
        "floor: zero-work relay / upstream",
        format!("{relay_floor:.2}×"),
    );
    report.info(
        "cold goward / zero-work relay",
        format!("{cold_vs_relay:.2}×"),
    );
    report.info(
        "goward CPU per cold run (median)",
        format!("{:.2} s", median(&cold_cpu).as_secs_f64()),
    );
    report.rss("goward VmHWM, warm graph runs", kib_mib(warm_hwm), None);
    report.rss(
        "goward VmHWM, cold graph runs (max)",
        kib_mib(cold_hwm.iter().copied().max().unwrap_or(0)),
        None,
    );
    Ok(())
}

/// `BENCH_COMPARE=label=/path/to/goward,...`: only the warm arm, over several builds side by
/// side (a regression hunt). Each build fills its own cache, is restarted and makes one untimed
/// warm run; then `BENCH_RUNS` rounds, builds in rotated order, each a timed `go mod download`
/// with goward's CPU time (utime+stime) measured around it. Wall-clock time on a shared machine
/// is too noisy to compare builds with; CPU per run is steadier, and `BENCH_HOOK` (an
/// executable run as `HOOK before|after LABEL PID ROUND URL` around every timed run) attaches
/// exact instruments: `callgrind_control -d` under valgrind, `strace -c -f -p`.
fn compare_bench(s: &Settings, spec: &str) -> Result<()> {
    let builds: Vec<(&str, PathBuf)> = spec
        .split(',')
        .map(|b| {
            b.split_once('=')
                .map(|(l, p)| (l, PathBuf::from(p)))
                .with_context(|| format!("BENCH_COMPARE: {b:?} is not LABEL=PATH"))
        })
        .collect::<Result<_>>()?;
    for (label, bin) in &builds {
        ensure!(
            bin.is_file(),
            "BENCH_COMPARE: {label}: no file {}",
            bin.display()
        );
    }
    let hook = std::env::var_os("BENCH_HOOK");
    let run_hook = |phase: &str, label: &str, g: &Goward, round: usize| -> Result<()> {
        let Some(h) = &hook else { return Ok(()) };
        let st = std::process::Command::new(h)
            .args([
                phase,
                label,
                &pid(g)?.to_string(),
                &round.to_string(),
                g.url(),
            ])
            .status()
            .with_context(|| format!("running BENCH_HOOK {}", Path::new(h).display()))?;
        ensure!(st.success(), "BENCH_HOOK {phase} {label} failed: {st}");
        Ok(())
    };
    let Fixture {
        fake,
        vkey,
        graph,
        gosumdb,
        ..
    } = publish_graph(s);
    println!();
    println!(
        "warm arm only, {} builds, {} module versions, {} runs each",
        builds.len(),
        graph.mods.len(),
        s.runs
    );
    let mut keep = Leftovers::default();
    let mut caches = Vec::new();
    let mut gowards = Vec::new();
    for (label, bin) in &builds {
        let dir = tempfile::Builder::new()
            .prefix("goward-bench-compare-")
            .tempdir()?;
        let mut g = Goward::start_bin_in(bin, dir.path(), &fake.url(), &vkey);
        go_mod_download(g.url(), &gosumdb, &graph, &mut keep)
            .with_context(|| format!("filling {label}'s cache"))?;
        g.restart();
        go_mod_download(g.url(), &gosumdb, &graph, &mut keep)
            .with_context(|| format!("warm-up of {label}"))?;
        println!("  {label}: {} (pid {})", bin.display(), pid(&g)?);
        caches.push(dir);
        gowards.push(g);
    }
    let mut cpu: Vec<Vec<Duration>> = vec![Vec::new(); builds.len()];
    let mut wall: Vec<Vec<Duration>> = vec![Vec::new(); builds.len()];
    for round in 0..s.runs {
        for k in 0..builds.len() {
            let i = (k + round) % builds.len();
            let (g, label) = (&gowards[i], builds[i].0);
            let p = pid(g)?;
            run_hook("before", label, g, round)?;
            fake.reset_requests();
            let c0 = proc_cpu(p)?;
            let d = go_mod_download(g.url(), &gosumdb, &graph, &mut keep)?;
            cpu[i].push(proc_cpu(p)?.saturating_sub(c0));
            wall[i].push(d);
            run_hook("after", label, g, round)?;
            let upstream = fake.request_log().len();
            ensure!(
                upstream == 0,
                "{label}'s warm run made {upstream} upstream requests"
            );
        }
        println!(
            "  round {}: {}",
            round + 1,
            builds
                .iter()
                .enumerate()
                .map(|(i, (l, _))| format!(
                    "{l} {:.2} s (CPU {:.2} s)",
                    wall[i][round].as_secs_f64(),
                    cpu[i][round].as_secs_f64()
                ))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let mean = |v: &[Duration]| v.iter().map(Duration::as_secs_f64).sum::<f64>() / v.len() as f64;
    println!();
    println!("warm go mod download        wall median   CPU median   CPU mean   CPU mean / first");
    for (i, (label, _)) in builds.iter().enumerate() {
        println!(
            "  {label:<24} {:>9.3} s {:>10.3} s {:>8.3} s {:>10.2}×",
            median(&wall[i]).as_secs_f64(),
            median(&cpu[i]).as_secs_f64(),
            mean(&cpu[i]),
            mean(&cpu[i]) / mean(&cpu[0])
        );
    }
    drop(keep);
    drop(gowards);
    drop(caches);
    Ok(())
}

/// Where the time of a download goes: the median latency of each kind of request the go command
/// makes, sent one at a time on one keep-alive connection (as the go command reuses
/// connections), to a goward with an empty cache (the first request for each path, in the go
/// command's order: `.info`, `.mod`, `.zip`, then the checksum database), to the warm goward, and
/// to the fake upstream.
fn probe_latencies(
    fake: &FakeProxy,
    vkey: &str,
    warm: &str,
    graph: &Graph,
    log: &TestLog,
) -> Result<String> {
    let sample: Vec<&Published> = graph
        .mods
        .iter()
        .step_by(graph.mods.len().div_ceil(20))
        .collect();
    let db = format!("/sumdb/{}", log.name());
    let tiles: Vec<String> =
        goward::xmod::tlog::new_tiles(support::testlog::TILE_HEIGHT, 0, log.size())
            .iter()
            .map(|t| format!("{db}/{}", t.path()))
            .collect();
    let kinds: Vec<(&str, Vec<String>)> = vec![
        (".info", sample.iter().map(|p| p.info_path()).collect()),
        (".mod", sample.iter().map(|p| p.mod_path()).collect()),
        (
            ".zip (1-2 KiB)",
            sample
                .iter()
                .filter(|p| p.zip.len() < 64 << 10)
                .map(|p| p.zip_path())
                .collect(),
        ),
        (
            ".zip (1 MiB)",
            graph
                .mods
                .iter()
                .filter(|p| p.zip.len() >= 1 << 20)
                .map(|p| p.zip_path())
                .collect(),
        ),
        ("sumdb supported", vec![format!("{db}/supported"); 10]),
        ("sumdb latest", vec![format!("{db}/latest"); 10]),
        (
            "sumdb lookup",
            sample.iter().map(|p| p.lookup_path(log.name())).collect(),
        ),
        ("sumdb tile", tiles),
    ];
    let cold = Goward::start(&fake.url(), vkey, &[]);
    let mut conns = [
        KeepAlive::connect(cold.url())?,
        KeepAlive::connect(warm)?,
        KeepAlive::connect(&fake.url())?,
    ];
    let mut out = format!(
        "{:<34} {:>12} {:>12} {:>12}",
        "GET latency (keep-alive, median)", "goward cold", "goward warm", "upstream"
    );
    for (what, paths) in kinds {
        if paths.is_empty() {
            continue;
        }
        let mut ms = [0f64; 3];
        for (c, m) in conns.iter_mut().zip(&mut ms) {
            let mut v = Vec::new();
            for p in &paths {
                let t = Instant::now();
                c.get(p)?;
                v.push(t.elapsed());
            }
            *m = median(&v).as_secs_f64() * 1e3;
        }
        let _ = write!(
            out,
            "\n  {:<32} {:>9.2} ms {:>9.2} ms {:>9.2} ms",
            format!("{what} ({} paths)", paths.len()),
            ms[0],
            ms[1],
            ms[2]
        );
    }
    Ok(out)
}

/// A minimal HTTP/1.1 keep-alive client (Content-Length bodies only), as the go command reuses
/// connections.
struct KeepAlive {
    hostport: String,
    s: TcpStream,
    buf: Vec<u8>,
}

impl KeepAlive {
    fn connect(base: &str) -> Result<KeepAlive> {
        let hostport = base
            .strip_prefix("http://")
            .context("not an http URL")?
            .to_owned();
        let s = TcpStream::connect(&hostport)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(KeepAlive {
            hostport,
            s,
            buf: Vec::new(),
        })
    }

    /// GETs `path`, returning the body length; fails unless 200 with a Content-Length.
    fn get(&mut self, path: &str) -> Result<usize> {
        // One write per request, and no Nagle: the go command's client does the same.
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: goward-bench\r\nAccept-Encoding: identity\r\n\r\n",
            self.hostport
        );
        self.s.write_all(req.as_bytes())?;
        let mut chunk = vec![0u8; 64 << 10];
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let k = self.s.read(&mut chunk)?;
            ensure!(k > 0, "GET {path}: connection closed");
            self.buf.extend_from_slice(&chunk[..k]);
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        let status = head
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        let len: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .with_context(|| format!("GET {path}: no Content-Length ({head:?})"))?;
        while self.buf.len() < head_end + len {
            let k = self.s.read(&mut chunk)?;
            ensure!(k > 0, "GET {path}: connection closed in the body");
            self.buf.extend_from_slice(&chunk[..k]);
        }
        self.buf.drain(..head_end + len);
        ensure!(status == "200", "GET {path}: status {status}");
        Ok(len)
    }
}

// ---------------------------------------------------------------------------------------------
// The big zip.
// ---------------------------------------------------------------------------------------------

const BIG_PATH: &str = "example.com/bench/big";
const BIG_VERSION: &str = "v1.0.0";
const BIG_CHUNK: usize = 4 << 20;

struct BigZip {
    _dir: tempfile::TempDir,
    file: PathBuf,
    size: u64,
    entries: usize,
    content: u64,
    h1: String,
    sha256: [u8; 32],
    go_mod: String,
}

impl BigZip {
    /// A valid module zip: go.mod, one Go file and `mib` MiB of pseudo-random data in 4 MiB
    /// files. Entries are stored (not deflated) so that generating it is quick; module zips may
    /// hold stored entries and goward checks them like deflated ones (CRC, sizes, `h1:`).
    fn generate(mib: u64) -> Result<BigZip> {
        let t = Instant::now();
        let dir = tempfile::Builder::new()
            .prefix("goward-bench-big-")
            .tempdir()?;
        let file = dir.path().join("big.zip");
        let prefix = format!("{BIG_PATH}@{BIG_VERSION}/");
        let go_mod = format!("module {BIG_PATH}\n\ngo 1.21\n");
        let go_src = "// Package big carries a lot of test data.\npackage big\n";
        let mut w = ZipWriter::new(BufWriter::with_capacity(1 << 20, File::create(&file)?));
        let opts = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Stored)
            .last_modified_time(DateTime::default());
        let mut digests: Vec<(String, [u8; 32])> = Vec::new();
        for (name, data) in [("go.mod", go_mod.as_bytes()), ("big.go", go_src.as_bytes())] {
            let full = format!("{prefix}{name}");
            w.start_file(full.as_str(), opts)?;
            w.write_all(data)?;
            digests.push((full, Sha256::digest(data).into()));
        }
        let total = mib << 20;
        let mut rng = Rng::new(0xB16);
        let mut buf = vec![0u8; BIG_CHUNK];
        let mut left = total;
        let mut n = 0;
        while left > 0 {
            let len = left.min(BIG_CHUNK as u64) as usize;
            rng.fill(&mut buf[..len]);
            let full = format!("{prefix}data/blob{n:04}.bin");
            w.start_file(full.as_str(), opts)?;
            w.write_all(&buf[..len])?;
            digests.push((full, Sha256::digest(&buf[..len]).into()));
            left -= len as u64;
            n += 1;
        }
        w.finish()?
            .into_inner()
            .map_err(|e| e.into_error())?
            .sync_all()?;
        let h1 = oracle_h1(&digests);
        let (sha256, size) = sha256_file(&file)?;
        println!();
        println!(
            "big zip {BIG_PATH}@{BIG_VERSION}: {} entries, {size} bytes ({:.1} MiB, {} MiB of random data, stored); generated in {:.1} s",
            digests.len(),
            to_mib(size),
            mib,
            t.elapsed().as_secs_f64()
        );
        Ok(BigZip {
            _dir: dir,
            file,
            size,
            entries: digests.len(),
            content: total,
            h1,
            sha256,
            go_mod,
        })
    }
}

/// dirhash `Hash1` from (name, SHA-256 of content), computed here and not by goward: the zip
/// must be proven in the checksum DB under the hash the go command would compute.
fn oracle_h1(files: &[(String, [u8; 32])]) -> String {
    let mut sorted: Vec<&(String, [u8; 32])> = files.iter().collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut h = Sha256::new();
    for (name, digest) in sorted {
        for b in digest {
            h.update(format!("{b:02x}").as_bytes());
        }
        h.update(b"  ");
        h.update(name.as_bytes());
        h.update(b"\n");
    }
    format!(
        "h1:{}",
        base64::engine::general_purpose::STANDARD.encode(h.finalize())
    )
}

fn sha256_file(path: &Path) -> Result<([u8; 32], u64)> {
    let mut f = File::open(path)?;
    let mut buf = vec![0u8; 64 << 10];
    let mut h = Sha256::new();
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            return Ok((h.finalize().into(), n));
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
}

/// What one client got.
struct Fetched {
    bytes: u64,
    sha256: Option<[u8; 32]>,
    elapsed: Duration,
}

/// A streaming HTTP/1.1 GET that keeps nothing in memory: counts the body, hashing it if asked.
fn stream_get(url: &str, hash: bool) -> Result<Fetched> {
    let t = Instant::now();
    let rest = url.strip_prefix("http://").context("not an http URL")?;
    let (hostport, path) = rest.split_at(rest.find('/').context("no path")?);
    let mut s = TcpStream::connect(hostport)?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(Duration::from_secs(300)))?;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {hostport}\r\nUser-Agent: goward-bench\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes())?;
    let mut buf = vec![0u8; 256 << 10];
    let mut head = Vec::new();
    let body_start = loop {
        let k = s.read(&mut buf)?;
        ensure!(k > 0, "GET {url}: connection closed in the header");
        head.extend_from_slice(&buf[..k]);
        if let Some(i) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        ensure!(head.len() < 64 << 10, "GET {url}: header too long");
    };
    let text = String::from_utf8_lossy(&head[..body_start]).into_owned();
    let status = text.split_whitespace().nth(1).unwrap_or_default();
    if status != "200" {
        let body = String::from_utf8_lossy(&head[body_start..]);
        bail!("GET {url}: status {status}: {body}");
    }
    let len: u64 = text
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .with_context(|| format!("GET {url}: no Content-Length"))?;
    let mut h = hash.then(Sha256::new);
    let first = &head[body_start..];
    let mut got = first.len() as u64;
    if let Some(h) = h.as_mut() {
        h.update(first);
    }
    loop {
        let k = s.read(&mut buf)?;
        if k == 0 {
            break;
        }
        got += k as u64;
        if let Some(h) = h.as_mut() {
            h.update(&buf[..k]);
        }
    }
    ensure!(got == len, "GET {url}: {got} body bytes of {len}");
    Ok(Fetched {
        bytes: got,
        sha256: h.map(|h| h.finalize().into()),
        elapsed: t.elapsed(),
    })
}

/// `clients` GETs of `url` started together; client 0 also checks the SHA-256.
fn fetch_concurrently(url: &str, clients: usize, want: &[u8; 32]) -> Result<(Duration, u64)> {
    let barrier = Arc::new(Barrier::new(clients + 1));
    let handles: Vec<_> = (0..clients)
        .map(|i| {
            let (url, barrier) = (url.to_owned(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                stream_get(&url, i == 0)
            })
        })
        .collect();
    barrier.wait();
    let t = Instant::now();
    let mut bytes = 0;
    for h in handles {
        let f = h.join().map_err(|_| anyhow!("client thread panicked"))??;
        if let Some(d) = f.sha256 {
            ensure!(&d == want, "client received a zip with the wrong SHA-256");
        }
        bytes += f.bytes;
    }
    Ok((t.elapsed(), bytes))
}

fn big_zip_bench(s: &Settings, big: &BigZip, report: &mut Report) -> Result<()> {
    let fake = FakeProxy::start(TestLog::new(DB_NAME));
    let vkey = fake.with_log(|l| l.vkey());
    let mod_h1 = h1_mod(big.go_mod.as_bytes());
    fake.with_log(|l| l.add_module(BIG_PATH, BIG_VERSION, &big.h1, &mod_h1));
    fake.add_module(Module::new(
        BIG_PATH,
        BIG_VERSION,
        big.go_mod.clone().into_bytes(),
        std::fs::read(&big.file)?,
    ));
    let zip_path = support::fakeproxy::artifact_path(BIG_PATH, BIG_VERSION, "zip");

    // Cold: one client on an empty cache: goward streams the zip to disk, checks every rule,
    // hashes it, proves it, stores it and serves it.
    let cache = tempfile::Builder::new()
        .prefix("goward-bench-big-")
        .tempdir()?;
    let mut g = Goward::start_in(cache.path(), &fake.url(), &vkey, &[]);
    let idle = proc_kib(pid(&g)?, "VmHWM")?;
    let f = stream_get(&g.url_for(&zip_path), true)?;
    ensure!(
        f.sha256.as_ref() == Some(&big.sha256),
        "cold fetch: goward served a zip with the wrong SHA-256"
    );
    let cold_hwm = proc_kib(pid(&g)?, "VmHWM")?;
    let cold_time = f.elapsed;

    // Warm: a fresh process on the filled cache, so VmHWM covers serving only.
    g.restart();
    let warm_idle = proc_kib(pid(&g)?, "VmHWM")?;
    let (warm_time, bytes) = fetch_concurrently(&g.url_for(&zip_path), s.clients, &big.sha256)?;
    ensure!(
        bytes == big.size * s.clients as u64,
        "short concurrent download"
    );
    let warm_hwm = proc_kib(pid(&g)?, "VmHWM")?;
    drop(g);

    // Cold with every client at once: one upstream fetch and verification shared by all.
    let cache2 = tempfile::Builder::new()
        .prefix("goward-bench-big-")
        .tempdir()?;
    let g = Goward::start_in(cache2.path(), &fake.url(), &vkey, &[]);
    fake.reset_requests();
    let (cold_n_time, _) = fetch_concurrently(&g.url_for(&zip_path), s.clients, &big.sha256)?;
    let cold_n_hwm = proc_kib(pid(&g)?, "VmHWM")?;
    let upstream_fetches = fake.requests(&zip_path);
    drop(g);

    println!();
    println!(
        "serving the big zip ({:.0} MiB) from goward        time    MB/s (all clients)   goward VmHWM",
        to_mib(big.size)
    );
    println!(
        "  goward idle after start                                                   {:>6.1} MiB",
        kib_mib(idle)
    );
    println!(
        "  cold: 1 client, empty cache (fetch+verify+serve) {:>6.2} s {:>8.0}             {:>6.1} MiB",
        cold_time.as_secs_f64(),
        mbps(big.size, cold_time),
        kib_mib(cold_hwm)
    );
    println!(
        "  warm: {} clients at once, cache filled             {:>6.2} s {:>8.0}             {:>6.1} MiB (idle {:.1})",
        s.clients,
        warm_time.as_secs_f64(),
        mbps(bytes, warm_time),
        kib_mib(warm_hwm),
        kib_mib(warm_idle)
    );
    println!(
        "  cold: {} clients at once, empty cache              {:>6.2} s {:>8.0}             {:>6.1} MiB ({} upstream zip fetch{})",
        s.clients,
        cold_n_time.as_secs_f64(),
        mbps(big.size * s.clients as u64, cold_n_time),
        kib_mib(cold_n_hwm),
        upstream_fetches,
        if upstream_fetches == 1 { "" } else { "es" }
    );
    report.rss(
        &format!(
            "goward VmHWM serving {:.0} MiB zip to {} clients",
            to_mib(big.size),
            s.clients
        ),
        kib_mib(warm_hwm),
        Some(RSS_TARGET_MIB),
    );
    report.rss(
        "goward VmHWM, cold fetch+verify, 1 client",
        kib_mib(cold_hwm),
        None,
    );
    report.rss(
        &format!("goward VmHWM, cold fetch+verify, {} clients", s.clients),
        kib_mib(cold_n_hwm),
        None,
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The shared S3 store (`--store s3://…`) against the disk store, in the same run.
// ---------------------------------------------------------------------------------------------

/// Arms of the S3 section, interleaved like the graph bench's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum S3Arm {
    DiskWarm,
    S3Warm,
    DiskCold,
    S3Cold,
}

impl S3Arm {
    const ALL: [S3Arm; 4] = [
        S3Arm::DiskWarm,
        S3Arm::S3Warm,
        S3Arm::DiskCold,
        S3Arm::S3Cold,
    ];

    fn label(self) -> &'static str {
        match self {
            S3Arm::DiskWarm => "warm, disk store",
            S3Arm::S3Warm => "warm, S3 store (bucket + local tier)",
            S3Arm::DiskCold => "cold, disk store",
            S3Arm::S3Cold => "cold, S3 store (empty prefix + tier)",
        }
    }
}

/// `go mod download` of the graph through goward on the disk store and on
/// an S3 store (moto on 127.0.0.1, `$GOWARD_TEST_MOTO`), warm and cold;
/// then the peak RSS of a replica serving the big zip from the bucket to
/// `BENCH_CLIENTS` clients at once (a fresh replica, empty local tier).
fn s3_bench(s: &Settings, big: &BigZip, report: &mut Report) -> Result<()> {
    if std::env::var_os("GOWARD_TEST_MOTO").is_none() {
        println!();
        println!("S3 store: SKIPPED (set GOWARD_TEST_MOTO to a moto_server, as .ci/run does)");
        return Ok(());
    }
    use std::ffi::OsString;
    use support::s3::Moto;
    let moto = Moto::start();
    let env = Moto::env_for(&moto.endpoint());
    let Fixture {
        fake,
        vkey,
        graph,
        gosumdb,
        ..
    } = publish_graph(s);
    let s3_args = |prefix: &str| -> Vec<OsString> {
        [
            "--upstream",
            &fake.url(),
            "--sumdb",
            &vkey,
            "--store",
            &format!("s3://{}/{prefix}", support::s3::BUCKET),
        ]
        .iter()
        .map(OsString::from)
        .collect()
    };
    let tmp = |p: &str| tempfile::Builder::new().prefix(p).tempdir();

    let mut keep = Leftovers::default();
    let disk_cache = tmp("goward-bench-disk-")?;
    let mut disk_warm = Goward::start_in(disk_cache.path(), &fake.url(), &vkey, &[]);
    go_mod_download(disk_warm.url(), &gosumdb, &graph, &mut keep)
        .context("filling the disk store")?;
    disk_warm.restart();
    let warm_tier = tmp("goward-bench-tier-")?;
    let mut s3_warm = Goward::start_args_env(warm_tier.path(), s3_args("warm"), env.clone());
    go_mod_download(s3_warm.url(), &gosumdb, &graph, &mut keep).context("filling the S3 store")?;
    s3_warm.restart();

    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); S3Arm::ALL.len()];
    let mut s3_cold_hwm = Vec::new();
    let mut s3_warm_upstream = Vec::new();
    println!();
    println!(
        "S3 store vs disk store: go mod download of the graph ({} module versions), {} runs per arm, interleaved",
        graph.mods.len(),
        s.runs
    );
    for round in 0..s.runs {
        for k in 0..S3Arm::ALL.len() {
            let idx = (k + round) % S3Arm::ALL.len();
            let d = match S3Arm::ALL[idx] {
                S3Arm::DiskWarm => go_mod_download(disk_warm.url(), &gosumdb, &graph, &mut keep)?,
                S3Arm::S3Warm => {
                    fake.reset_requests();
                    let d = go_mod_download(s3_warm.url(), &gosumdb, &graph, &mut keep)?;
                    s3_warm_upstream.push(fake.request_log().len());
                    d
                }
                S3Arm::DiskCold => {
                    let mut g = Goward::start(&fake.url(), &vkey, &[]);
                    let d = go_mod_download(g.url(), &gosumdb, &graph, &mut keep)?;
                    g.kill_hard();
                    keep.gowards.push(g);
                    d
                }
                S3Arm::S3Cold => {
                    let tier = tmp("goward-bench-tier-")?;
                    let mut g = Goward::start_args_env(
                        tier.path(),
                        s3_args(&format!("cold{round}")),
                        env.clone(),
                    );
                    let d = go_mod_download(g.url(), &gosumdb, &graph, &mut keep)?;
                    s3_cold_hwm.push(proc_kib(pid(&g)?, "VmHWM")?);
                    g.kill_hard();
                    keep.gowards.push(g);
                    d
                }
            };
            times[idx].push(d);
        }
    }
    let s3_warm_hwm = proc_kib(pid(&s3_warm)?, "VmHWM")?;
    drop(keep);
    println!("  arm                                          median      min      max");
    for (arm, t) in S3Arm::ALL.iter().zip(&times) {
        println!(
            "  {:<40} {:>6.3} s {:>6.3} s {:>6.3} s",
            arm.label(),
            median(t).as_secs_f64(),
            t.iter().min().copied().unwrap_or_default().as_secs_f64(),
            t.iter().max().copied().unwrap_or_default().as_secs_f64(),
        );
    }
    let m = |a: S3Arm| median(&times[S3Arm::ALL.iter().position(|x| *x == a).unwrap_or(0)]);
    let warm = m(S3Arm::S3Warm).as_secs_f64() / m(S3Arm::DiskWarm).as_secs_f64();
    let cold = m(S3Arm::S3Cold).as_secs_f64() / m(S3Arm::DiskCold).as_secs_f64();
    println!("  warm S3 / warm disk {warm:.2}×, cold S3 / cold disk {cold:.2}×");
    println!(
        "  upstream requests per warm S3 run (median) {}; VmHWM warm S3 replica {:.1} MiB, cold S3 replicas (max) {:.1} MiB",
        median_usize(&s3_warm_upstream),
        kib_mib(s3_warm_hwm),
        kib_mib(s3_cold_hwm.iter().copied().max().unwrap_or(0))
    );
    report.info(
        "warm go mod download: S3 / disk store",
        format!("{warm:.2}×"),
    );
    report.info(
        "cold go mod download: S3 / disk store",
        format!("{cold:.2}×"),
    );

    // The big zip from the bucket.
    let mod_h1 = h1_mod(big.go_mod.as_bytes());
    fake.with_log(|l| l.add_module(BIG_PATH, BIG_VERSION, &big.h1, &mod_h1));
    fake.add_module(Module::new(
        BIG_PATH,
        BIG_VERSION,
        big.go_mod.clone().into_bytes(),
        std::fs::read(&big.file)?,
    ));
    let zip_path = support::fakeproxy::artifact_path(BIG_PATH, BIG_VERSION, "zip");
    let tier_a = tmp("goward-bench-tier-")?;
    let a = Goward::start_args_env(tier_a.path(), s3_args("big"), env.clone());
    let f = stream_get(&a.url_for(&zip_path), true)?;
    ensure!(
        f.sha256.as_ref() == Some(&big.sha256),
        "S3 cold fetch: wrong SHA-256"
    );
    let a_hwm = proc_kib(pid(&a)?, "VmHWM")?;
    drop(a);
    let tier_b = tmp("goward-bench-tier-")?;
    let mut b = Goward::start_args_env(tier_b.path(), s3_args("big"), env.clone());
    fake.reset_requests();
    let (b_time, bytes) = fetch_concurrently(&b.url_for(&zip_path), s.clients, &big.sha256)?;
    ensure!(
        bytes == big.size * s.clients as u64,
        "short concurrent download"
    );
    ensure!(
        fake.requests(&zip_path) == 0,
        "replica B fetched the big zip from the upstream"
    );
    let b_hwm = proc_kib(pid(&b)?, "VmHWM")?;
    b.restart();
    let (bw_time, _) = fetch_concurrently(&b.url_for(&zip_path), s.clients, &big.sha256)?;
    let bw_hwm = proc_kib(pid(&b)?, "VmHWM")?;
    println!();
    println!(
        "serving the big zip ({:.0} MiB) from the bucket                   time   MB/s   VmHWM",
        to_mib(big.size)
    );
    println!(
        "  replica A: 1 client, cold (fetch+verify+upload+serve)       {:>6.2} s {:>6.0} {:>6.1} MiB",
        f.elapsed.as_secs_f64(),
        mbps(big.size, f.elapsed),
        kib_mib(a_hwm)
    );
    println!(
        "  replica B: {} clients, empty local tier (download+re-check)  {:>6.2} s {:>6.0} {:>6.1} MiB",
        s.clients,
        b_time.as_secs_f64(),
        mbps(bytes, b_time),
        kib_mib(b_hwm)
    );
    println!(
        "  replica B restarted: {} clients, warm local tier             {:>6.2} s {:>6.0} {:>6.1} MiB",
        s.clients,
        bw_time.as_secs_f64(),
        mbps(bytes, bw_time),
        kib_mib(bw_hwm)
    );
    report.rss(
        &format!(
            "S3 replica VmHWM, {:.0} MiB zip to {} clients",
            to_mib(big.size),
            s.clients
        ),
        kib_mib(b_hwm),
        Some(RSS_TARGET_MIB),
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// h1: hashing throughput.
// ---------------------------------------------------------------------------------------------

fn hash_bench(big: &BigZip, report: &mut Report) -> Result<()> {
    let limits = goward::zip::ZipLimits::default();
    let mut raw = Vec::new();
    let mut dirhash = Vec::new();
    let mut check = Vec::new();
    for _ in 0..HASH_RUNS {
        let t = Instant::now();
        let (d, _) = sha256_file(&big.file)?;
        raw.push(t.elapsed());
        ensure!(d == big.sha256, "raw SHA-256 changed");

        let t = Instant::now();
        let h = goward::xmod::dirhash::hash_zip(&big.file)?;
        dirhash.push(t.elapsed());
        ensure!(
            h.as_str() == big.h1,
            "goward::xmod::dirhash::hash_zip = {h}, the oracle says {}",
            big.h1
        );

        let t = Instant::now();
        let r = goward::zip::check_zip_path(&big.file, BIG_PATH, BIG_VERSION, &limits)
            .map_err(|e| anyhow!("check_zip_path: {e}"))?;
        check.push(t.elapsed());
        ensure!(
            r.h1.as_str() == big.h1 && r.sha256 == big.sha256,
            "check_zip_path reported other hashes"
        );
    }
    let raw_mbps = mbps(big.size, median(&raw));
    let dh_mbps = mbps(big.size, median(&dirhash));
    let ck_mbps = mbps(big.size, median(&check));
    println!();
    println!(
        "h1: hashing over the big zip ({} bytes, {} entries, {} bytes of content; file in page cache; median of {HASH_RUNS})",
        big.size, big.entries, big.content
    );
    println!("  raw SHA-256 (sha2) of the zip file, 64 KiB reads    {raw_mbps:>7.0} MB/s");
    println!(
        "  goward::xmod::dirhash::hash_zip (h1:)                     {dh_mbps:>7.0} MB/s  {:.2}× raw",
        dh_mbps / raw_mbps
    );
    println!(
        "  goward::zip::check_zip_path (rules + h1: + file SHA-256)  {ck_mbps:>7.0} MB/s  {:.2}× raw",
        ck_mbps / raw_mbps
    );
    println!("  (MB = 10^6 bytes of zip file per second)");
    report.info("raw SHA-256 throughput", format!("{raw_mbps:.0} MB/s"));
    report.info(
        "h1: dirhash::hash_zip / raw SHA-256",
        format!("{:.2}×", dh_mbps / raw_mbps),
    );
    report.info(
        "h1: check_zip_path / raw SHA-256",
        format!("{:.2}×", ck_mbps / raw_mbps),
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// Air gap at scale: mirror fill, bundle export and import.
// ---------------------------------------------------------------------------------------------

/// Runs the goward binary under `/usr/bin/time -v`: wall time, peak RSS (KiB), stdout.
fn timed_goward(args: &[&str]) -> Result<(Duration, u64, String)> {
    let start = Instant::now();
    let out = std::process::Command::new("/usr/bin/time")
        .arg("-v")
        .arg(support::goward_bin())
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .context("running goward under /usr/bin/time -v (GNU time is required)")?;
    let wall = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(
        out.status.success(),
        "goward {} failed: {stderr}",
        args.join(" ")
    );
    let rss = stderr
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|v| v.parse().ok())
        .context("no peak RSS in /usr/bin/time's output")?;
    Ok((wall, rss, String::from_utf8_lossy(&out.stdout).into_owned()))
}

/// The air-gap loop at scale: `BENCH_BUNDLE_VERSIONS` (default 2000) module versions, each
/// carrying `BENCH_BUNDLE_KIB` (default 32) KiB of incompressible data, filled into a cache
/// through goward (serve, 4 clients) in two steps; after each step the cache is exported as a
/// tar and imported into a fresh cache, timed, with peak RSS. The two bundles (a quarter of the
/// versions, then all) show whether import memory depends on the bundle's size.
fn bundle_bench(report: &mut Report) -> Result<()> {
    let n = env_num("BENCH_BUNDLE_VERSIONS", 2000)? as usize;
    let kib = env_num("BENCH_BUNDLE_KIB", 32)? as usize;
    ensure!(n >= 4, "BENCH_BUNDLE_VERSIONS must be at least 4");
    println!();
    println!("air gap: {n} module versions of {kib} KiB data each");
    let fake = FakeProxy::start(TestLog::new(DB_NAME));
    fake.with_log(|l| l.add_fillers(1000));
    let mut rng = Rng::new(0xb0d1e);
    let mods: Vec<Published> = (0..n)
        .map(|i| {
            let path = format!("example.com/scale/m{i:05}");
            let mut data = vec![0u8; kib * 1024];
            rng.fill(&mut data);
            fake.publish(
                ModZip::new(&path, "v1.0.0")
                    .file("m.go", "package m\n")
                    .file("data.bin", data),
                &format!("module {path}\n\ngo 1.21\n"),
            )
        })
        .collect();
    let vkey = fake.with_log(|l| l.vkey());
    let dir = tempfile::Builder::new()
        .prefix("goward-bench-bundle-")
        .tempdir()?;
    let outside = dir.path().join("outside");
    let steps = [n / 4, n];
    let mut done = 0;
    let mut filled = Duration::ZERO;
    for (step, &upto) in steps.iter().enumerate() {
        let start = Instant::now();
        {
            let g = Goward::start_in(&outside, &fake.url(), &vkey, &[]);
            let todo = &mods[done..upto];
            std::thread::scope(|s| -> Result<()> {
                let workers: Vec<_> = todo
                    .chunks(todo.len().div_ceil(4).max(1))
                    .map(|chunk| {
                        let g = &g;
                        s.spawn(move || -> Result<()> {
                            for p in chunk {
                                for path in [p.mod_path(), p.zip_path(), p.info_path()] {
                                    let r = g.get(&path);
                                    ensure!(r.status == 200, "GET {path}: {}", r.text());
                                }
                            }
                            Ok(())
                        })
                    })
                    .collect();
                for w in workers {
                    w.join().map_err(|_| anyhow!("a fill worker panicked"))??;
                }
                Ok(())
            })?;
        }
        filled += start.elapsed();
        done = upto;
        println!(
            "  fill to {upto} versions through goward: {:.1} s",
            start.elapsed().as_secs_f64()
        );
        let tar = dir.path().join(format!("bundle-{step}.tar"));
        let (wall, rss, _) = timed_goward(&[
            "bundle",
            "export",
            "--cache-dir",
            outside.to_str().context("utf-8 path")?,
            "--sumdb",
            &vkey,
            "--out",
            tar.to_str().context("utf-8 path")?,
        ])?;
        let size = std::fs::metadata(&tar)?.len();
        println!(
            "  export {upto} versions ({:.1} MiB tar): {:.1} s, peak RSS {:.1} MiB",
            to_mib(size),
            wall.as_secs_f64(),
            kib_mib(rss)
        );
        report.info(
            &format!("bundle export, {upto} versions ({:.0} MiB)", to_mib(size)),
            format!("{:.1} s", wall.as_secs_f64()),
        );
        report.rss(
            &format!("bundle export peak RSS, {upto} versions"),
            kib_mib(rss),
            None,
        );
        let inside = dir.path().join(format!("inside-{step}"));
        let (wall, rss, stdout) = timed_goward(&[
            "bundle",
            "import",
            "--cache-dir",
            inside.to_str().context("utf-8 path")?,
            "--sumdb",
            &vkey,
            tar.to_str().context("utf-8 path")?,
        ])?;
        ensure!(
            stdout.contains(&format!("imported {upto} module versions")),
            "the import did not import {upto} versions: {stdout}"
        );
        println!(
            "  import {upto} versions: {:.1} s, peak RSS {:.1} MiB",
            wall.as_secs_f64(),
            kib_mib(rss)
        );
        report.info(
            &format!("bundle import, {upto} versions"),
            format!("{:.1} s", wall.as_secs_f64()),
        );
        report.rss(
            &format!("bundle import peak RSS, {upto} versions"),
            kib_mib(rss),
            None,
        );
        // The staged copy and the bundle are not needed any more: keep the disk use down.
        std::fs::remove_file(&tar)?;
        std::fs::remove_dir_all(&inside)?;
    }
    report.info(
        &format!("mirror fill through goward, {n} versions"),
        format!("{:.1} s", filled.as_secs_f64()),
    );
    Ok(())
}

fn pid(g: &Goward) -> Result<u32> {
    g.pid().context("goward is not running")
}

/// A `kB` field of /proc/<pid>/status (VmHWM: peak resident set size; VmRSS: current).
fn proc_kib(pid: u32, field: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)?
                .strip_prefix(':')?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .with_context(|| format!("no {field} in /proc/{pid}/status"))
}

/// User + system CPU time of a process so far (/proc/<pid>/stat fields 14 and 15, in clock
/// ticks of 1/100 s, the Linux USER_HZ).
fn proc_cpu(pid: u32) -> Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // The command name (field 2) may contain spaces; fields after it are plain.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("malformed /proc/<pid>/stat")?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> Result<u64> {
        f.get(i)
            .and_then(|v| v.parse().ok())
            .context("malformed /proc/<pid>/stat")
    };
    // Field 3 (state) is f[0], so utime (14) is f[11] and stime (15) f[12].
    Ok(Duration::from_millis((ticks(11)? + ticks(12)?) * 10))
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("model name")?
                    .split_once(':')
                    .map(|x| x.1.trim().to_owned())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    match v.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2,
    }
}

fn median_usize(v: &[usize]) -> usize {
    let mut v = v.to_vec();
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

fn to_mib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 20) as f64
}

fn kib_mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn mbps(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64().max(1e-9)
}

/// A proxy that does no work: every request is forwarded to the fake upstream and the answer
/// streamed back unchanged, with goward's own HTTP stack (axum server, reqwest client with a
/// keep-alive pool) but no cache, no verification and no logging. Its time over the direct arm is
/// what any proxy pays for the extra hop on this machine: the floor for the cold ratio.
struct Relay {
    addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Relay {
    fn start(upstream: &str) -> Result<Relay> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .no_proxy()
            .build()?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let upstream = upstream.trim_end_matches('/').to_owned();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("relay".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("relay: tokio runtime");
                rt.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("relay: listener");
                    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
                        let url = format!("{upstream}{}", req.uri());
                        let client = client.clone();
                        async move { relay_one(&client, &url).await }
                    });
                    tokio::select! {
                        r = axum::serve(listener, app) => r.expect("relay: serve"),
                        _ = stop_rx => {}
                    }
                });
                rt.shutdown_background();
            })?;
        Ok(Relay {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

async fn relay_one(
    client: &reqwest::Client,
    url: &str,
) -> axum::response::Response<axum::body::Body> {
    use axum::http::{StatusCode, header};
    match client.get(url).send().await {
        Ok(resp) => {
            let mut out = axum::response::Response::builder().status(resp.status().as_u16());
            for name in [header::CONTENT_TYPE, header::CONTENT_LENGTH] {
                if let Some(v) = resp.headers().get(name.as_str()) {
                    out = out.header(name, v.as_bytes());
                }
            }
            out.body(axum::body::Body::from_stream(resp.bytes_stream()))
                .unwrap_or_else(|_| {
                    axum::response::Response::new(axum::body::Body::from("relay: bad response"))
                })
        }
        Err(e) => {
            let mut r =
                axum::response::Response::new(axum::body::Body::from(format!("relay: {e}")));
            *r.status_mut() = StatusCode::BAD_GATEWAY;
            r
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
