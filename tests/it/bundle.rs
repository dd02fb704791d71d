//! Air-gapped bundles: `goward bundle export` on the connected side, `goward bundle import`
//! inside, then `serve --offline`; and the export used directly as `GOPROXY=file://` by the
//! plain go command. Every refusal names its reason and lands nothing.

use std::path::{Path, PathBuf};

use crate::support::fakeproxy::{FakeProxy, Published, file_url};
use crate::support::gocmd::{GoEnv, GoOutput};
use crate::support::modzip::ModZip;
use crate::support::testlog::TestLog;
use crate::support::{Goward, Trap, files_under, run_goward};

const DB: &str = "sum.goward.test";

/// A fake upstream whose log has fillers before and after the modules, so the tree has full
/// and partial tiles on two levels.
fn world() -> (FakeProxy, Vec<Published>, String) {
    let fake = FakeProxy::start(TestLog::new(DB));
    fake.with_log(|l| l.add_fillers(300));
    let a = publish(&fake, "example.com/air", "v1.0.0", "Air");
    let b = publish(&fake, "example.com/gap", "v1.2.0", "Gap");
    fake.with_log(|l| l.add_fillers(7));
    let vkey = fake.with_log(|l| l.vkey());
    (fake, vec![a, b], vkey)
}

fn publish(fake: &FakeProxy, path: &str, version: &str, word: &str) -> Published {
    let pkg = path.rsplit('/').next().unwrap_or("m");
    fake.publish(
        ModZip::new(path, version).file(
            &format!("{pkg}.go"),
            format!(
                "package {pkg}\n\n// Word says hello.\nfunc Word() string {{ return {:?} }}\n",
                format!("{word}-{version}")
            ),
        ),
        &format!("module {path}\n\ngo 1.21\n"),
    )
}

/// A program importing `mods` (path, version), printing their words.
fn app(proxy: &str, vkey: &str, mods: &[&Published]) -> GoEnv {
    let env = GoEnv::new(proxy, vkey);
    write_app(&env, mods);
    env
}

fn write_app(env: &GoEnv, mods: &[&Published]) {
    let mut gomod = "module example.com/app\n\ngo 1.21\n\nrequire (\n".to_owned();
    let mut imports = String::new();
    let mut calls = Vec::new();
    for p in mods {
        gomod.push_str(&format!("\t{} {}\n", p.path, p.version));
        imports.push_str(&format!("\t{:?}\n", p.path));
        calls.push(format!(
            "{}.Word()",
            p.path.rsplit('/').next().unwrap_or("m")
        ));
    }
    gomod.push_str(")\n");
    env.write("go.mod", gomod);
    env.write(
        "main.go",
        format!(
            "package main\n\nimport (\n\t\"fmt\"\n{imports})\n\nfunc main() {{ fmt.Println({}) }}\n",
            calls.join(", ")
        ),
    );
}

fn expected_words(mods: &[&Published]) -> String {
    mods.iter()
        .map(|p| {
            let word = if p.path.ends_with("air") {
                "Air"
            } else if p.path.ends_with("gap") {
                "Gap"
            } else {
                "New"
            };
            format!("{word}-{}", p.version)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn build_and_run(env: &GoEnv, mods: &[&Published]) {
    env.go(&["mod", "download"]).assert_success();
    env.go(&["build", "-mod=mod", "-o", "app", "."])
        .assert_success();
    let run = env.run(&env.work().join("app"), &[]);
    run.assert_success();
    assert_eq!(run.stdout.trim(), expected_words(mods), "{}", run.dump());
}

/// Fills `cache` through an online goward with the go command fetching `mods`.
fn fill(cache: &Path, fake: &FakeProxy, vkey: &str, mods: &[&Published]) {
    let g = Goward::start_in(cache, &fake.url(), vkey, &[]);
    build_and_run(&app(g.url(), vkey, mods), mods);
}

fn goward(args: &[&str]) -> GoOutput {
    run_goward(args)
}

fn export(cache: &Path, vkey: &str, out: &Path, extra: &[&str]) -> GoOutput {
    let mut args = vec![
        "bundle",
        "export",
        "--cache-dir",
        cache.to_str().unwrap(),
        "--sumdb",
        vkey,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    goward(&args)
}

fn import(cache: &Path, vkey: &str, bundle: &Path, extra: &[&str]) -> GoOutput {
    let mut args = vec![
        "bundle",
        "import",
        "--cache-dir",
        cache.to_str().unwrap(),
        "--sumdb",
        vkey,
        bundle.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    goward(&args)
}

fn offline_goward(cache: &Path, trap: &Trap, vkey: &str) -> Goward {
    Goward::start_in(
        cache,
        &trap.url(),
        &format!("{vkey} {}", trap.url()),
        &["--offline"],
    )
}

/// Records and blobs under a cache (what an import lands).
fn landed(cache: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for d in ["meta", "blobs"] {
        if cache.join(d).exists() {
            v.extend(files_under(&cache.join(d)));
        }
    }
    v
}

/// A connected cache filled with both modules and its export directory.
struct Exported {
    _fake: FakeProxy,
    mods: Vec<Published>,
    vkey: String,
    _dir: tempfile::TempDir,
    outside: PathBuf,
    bundle: PathBuf,
}

fn exported() -> Exported {
    let (fake, mods, vkey) = world();
    let dir = tempfile::tempdir().expect("temp dir");
    let outside = dir.path().join("outside");
    fill(&outside, &fake, &vkey, &mods.iter().collect::<Vec<_>>());
    let bundle = dir.path().join("bundle");
    export(&outside, &vkey, &bundle, &[]).assert_success();
    Exported {
        _fake: fake,
        mods,
        vkey,
        _dir: dir,
        outside,
        bundle,
    }
}

/// The whole walkthrough: fill online, export, import into a fresh cache, stop every fake,
/// serve offline; the go command downloads, verifies and builds with a fresh GOPATH. The same
/// export also works as `GOPROXY=file://` with no goward at all.
#[test]
fn export_import_then_go_builds_offline_and_from_the_export_directly() {
    let x = exported();
    let mods: Vec<&Published> = x.mods.iter().collect();
    assert!(x.bundle.join("goward-bundle.json").is_file());
    for rel in [
        format!("sumdb/{DB}/supported"),
        format!("sumdb/{DB}/lookup/example.com/air@v1.0.0"),
        "example.com/air/@v/list".to_owned(),
        "example.com/air/@v/v1.0.0.zip".to_owned(),
        "example.com/gap/@v/v1.2.0.mod".to_owned(),
        // Every prefix width of the partial level-0 tile (309 records: 53 in tile 1).
        format!("sumdb/{DB}/tile/8/0/001.p/1"),
        format!("sumdb/{DB}/tile/8/0/001.p/53"),
    ] {
        assert!(x.bundle.join(&rel).is_file(), "the export lacks {rel}");
    }

    let inside = tempfile::tempdir().expect("temp dir");
    let out = import(inside.path(), &x.vkey, &x.bundle, &[]);
    out.assert_success();
    assert!(
        out.stdout.contains("imported example.com/air@v1.0.0\n"),
        "{}",
        out.dump()
    );
    assert!(
        out.stdout.contains("imported 2 module versions\n"),
        "{}",
        out.dump()
    );

    // No fake is reachable from here on.
    drop(x._fake);
    let trap = Trap::new();
    {
        let g = offline_goward(inside.path(), &trap, &x.vkey);
        build_and_run(&app(g.url(), &x.vkey, &mods), &mods);
        let r = g.get(&format!("/sumdb/{DB}/latest"));
        assert_eq!(r.status, 200, "{}", r.text());
        let r = g.get("/example.com/air/@v/list");
        assert_eq!((r.status, r.text()), (200, "v1.0.0\n".to_owned()));
    }
    trap.assert_untouched();

    // The export as a plain file:// proxy, checksum database included.
    build_and_run(&app(&file_url(&x.bundle), &x.vkey, &mods), &mods);

    // The same as a tar.
    let tar = x._dir.path().join("bundle.tar");
    export(&x.outside, &x.vkey, &tar, &[]).assert_success();
    let inside2 = tempfile::tempdir().expect("temp dir");
    import(inside2.path(), &x.vkey, &tar, &[]).assert_success();
    let g = offline_goward(inside2.path(), &trap, &x.vkey);
    build_and_run(&app(g.url(), &x.vkey, &mods), &mods);
    trap.assert_untouched();
}
