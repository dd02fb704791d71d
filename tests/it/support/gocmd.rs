//! Runs the real `go` command hermetically.
//!
//! Every [`GoEnv`] gets fresh GOPATH, GOMODCACHE, HOME and work directory in a temp dir and an
//! environment built from scratch (`env_clear`): nothing from the developer's `go env`, GOENV
//! file, GOFLAGS, GOPRIVATE, HTTP proxies or netrc can leak in. Only the build cache (GOCACHE) is
//! shared between tests, under Cargo's target tmp dir: it is content-addressed, safe for
//! concurrent use and plays no part in module download or verification, and sharing it saves
//! recompiling the standard library in every test.
//!
//! The `go` command is required: a missing `go` fails the test (CI installs it); no silent skips.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long one `go` invocation may take before the test fails (cold builds of the standard
/// library on a loaded two-core CI machine are slow).
pub(crate) const GO_TIMEOUT: Duration = Duration::from_secs(600);

/// Path of the `go` binary: `$GO` if set, else `go` on PATH, else `/usr/local/go/bin/go`.
pub(crate) fn go_binary() -> PathBuf {
    if let Some(go) = std::env::var_os("GO") {
        return PathBuf::from(go);
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let candidate = dir.join("go");
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    let fallback = PathBuf::from("/usr/local/go/bin/go");
    assert!(
        fallback.is_file(),
        "the `go` command (go1.26 or newer) is required by the end-to-end tests but was not \
         found: set $GO or put `go` on PATH"
    );
    fallback
}

/// The outcome of one command.
#[derive(Debug)]
pub(crate) struct GoOutput {
    /// The command line, for messages.
    pub(crate) cmdline: String,
    /// Exit status.
    pub(crate) status: ExitStatus,
    /// Captured standard output.
    pub(crate) stdout: String,
    /// Captured standard error.
    pub(crate) stderr: String,
}

/// Panics unless `out` failed with goward's `reason`: cmd/go (web/api.go) prints a proxy's
/// text/plain error body after "server response:", and the reason must come from there, not from
/// the go command's own checks.
#[track_caller]
pub(crate) fn assert_refused_by_goward(out: &GoOutput, reason: &str) {
    eprintln!("`{}` (expecting {reason:?}):\n{}", out.cmdline, out.dump());
    out.assert_failure_containing("server response:");
    let from_goward = &out.stderr[out.stderr.find("server response:").unwrap_or(0)..];
    assert!(
        from_goward.contains(reason),
        "`{}` failed, but goward's response lacks {reason:?}\n{}",
        out.cmdline,
        out.dump()
    );
}

impl GoOutput {
    /// Whether the command exited with status 0.
    pub(crate) fn success(&self) -> bool {
        self.status.success()
    }

    /// Panics with the full output unless the command succeeded.
    #[track_caller]
    pub(crate) fn assert_success(&self) -> &GoOutput {
        assert!(
            self.success(),
            "`{}` failed ({})\n{}",
            self.cmdline,
            self.status,
            self.dump()
        );
        self
    }

    /// Panics unless the command failed and its stderr contains `needle`.
    #[track_caller]
    pub(crate) fn assert_failure_containing(&self, needle: &str) -> &GoOutput {
        assert!(
            !self.success(),
            "`{}` succeeded but should have failed\n{}",
            self.cmdline,
            self.dump()
        );
        assert!(
            self.stderr.contains(needle),
            "`{}` failed as expected, but stderr lacks {needle:?}\n{}",
            self.cmdline,
            self.dump()
        );
        self
    }

    /// Stdout and stderr, labelled, for assertion messages.
    pub(crate) fn dump(&self) -> String {
        format!(
            "--- stdout ---\n{}--- stderr ---\n{}--------------",
            self.stdout, self.stderr
        )
    }
}

/// A hermetic environment for the `go` command.
pub(crate) struct GoEnv {
    root: TempDir,
    vars: Vec<(String, String)>,
    timeout: Duration,
}

impl GoEnv {
    /// An environment whose module downloads go to `goproxy` only, verifying against `gosumdb`
    /// (a verifier key `name+hash+key`, or `off`).
    pub(crate) fn new(goproxy: &str, gosumdb: &str) -> GoEnv {
        let root = tempfile::Builder::new()
            .prefix("goward-go-")
            .tempdir()
            .expect("temp dir");
        for d in ["gopath", "home", "work", "tmp"] {
            std::fs::create_dir_all(root.path().join(d)).expect("create go dirs");
        }
        let gocache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gocache");
        std::fs::create_dir_all(&gocache).expect("create shared GOCACHE");
        let p = |d: &str| root.path().join(d).display().to_string();
        let mut vars: Vec<(String, String)> = vec![
            ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
            ("HOME".into(), p("home")),
            ("TMPDIR".into(), p("tmp")),
            ("GOPATH".into(), p("gopath")),
            ("GOMODCACHE".into(), p("gopath/pkg/mod")),
            ("GOCACHE".into(), gocache.display().to_string()),
            // No user or system go.env file; every setting below is explicit.
            ("GOENV".into(), "off".into()),
            // Read-only module cache dirs would make the temp dir undeletable.
            ("GOFLAGS".into(), "-modcacherw".into()),
            ("GOTOOLCHAIN".into(), "local".into()),
            ("GO111MODULE".into(), "on".into()),
            ("GOWORK".into(), "off".into()),
            ("GOPROXY".into(), goproxy.into()),
            ("GOSUMDB".into(), gosumdb.into()),
            ("GONOSUMDB".into(), String::new()),
            ("GOPRIVATE".into(), String::new()),
            ("GONOPROXY".into(), String::new()),
            ("GOINSECURE".into(), String::new()),
            ("GOAUTH".into(), "off".into()),
            ("GOVCS".into(), "*:off".into()),
            // Not settable as a variable (`go telemetry` owns it); kept for older toolchains.
            // Telemetry data would land in the temp HOME anyway.
            ("GOTELEMETRY".into(), "off".into()),
            ("CGO_ENABLED".into(), "0".into()),
        ];
        vars.sort();
        GoEnv {
            root,
            vars,
            timeout: GO_TIMEOUT,
        }
    }

    /// Sets (or overrides) one environment variable for later commands.
    pub(crate) fn set_env(&mut self, key: &str, value: &str) {
        self.vars.retain(|(k, _)| k != key);
        self.vars.push((key.to_owned(), value.to_owned()));
    }

    /// Changes the per-command timeout.
    pub(crate) fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// The work directory commands run in (put the main module here).
    pub(crate) fn work(&self) -> PathBuf {
        self.root.path().join("work")
    }

    /// GOMODCACHE.
    pub(crate) fn modcache(&self) -> PathBuf {
        self.root.path().join("gopath/pkg/mod")
    }

    /// The go command's download cache for a module: `GOMODCACHE/cache/download/<escaped>/@v`.
    pub(crate) fn download_dir(&self, escaped_path: &str) -> PathBuf {
        self.modcache()
            .join("cache/download")
            .join(escaped_path)
            .join("@v")
    }

    /// Writes `contents` to `rel` inside the work directory (creating parents).
    pub(crate) fn write(&self, rel: &str, contents: impl AsRef<[u8]>) {
        let path = self.work().join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent dir");
        }
        std::fs::write(&path, contents).expect("write work file");
    }

    /// Reads `rel` from the work directory.
    pub(crate) fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.work().join(rel)).expect("read work file")
    }

    /// Runs `go <args>` in the work directory.
    pub(crate) fn go(&self, args: &[&str]) -> GoOutput {
        self.run(&go_binary(), args)
    }

    /// Runs `program <args>` in the work directory with this environment (e.g. a built binary).
    pub(crate) fn run(&self, program: &Path, args: &[&str]) -> GoOutput {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .current_dir(self.work())
            .env_clear()
            .envs(self.vars.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let cmdline = format!("{} {}", program.display(), args.join(" "));
        run_with_timeout(cmd, cmdline, self.timeout)
    }
}

/// Runs `cmd`, capturing output; kills it and panics with what it printed after `timeout`.
pub(crate) fn run_with_timeout(mut cmd: Command, cmdline: String, timeout: Duration) -> GoOutput {
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `{cmdline}`: {e}"));
    let drain = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for child") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let stdout = out.join().unwrap_or_default();
            let stderr = err.join().unwrap_or_default();
            panic!(
                "`{cmdline}` did not finish within {timeout:?}\n--- stdout ---\n{stdout}--- stderr ---\n{stderr}"
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    GoOutput {
        cmdline,
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}
