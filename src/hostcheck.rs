//! Facts about the host goward runs on, behind one seam ([`Host`]) so the
//! decisions made from them ([`crate::doctor`], the start-up checks of the
//! cache) are unit-tested with fake facts on any OS.
//!
//! [`RealHost`] implements the seam: process environment, `PATH` lookup,
//! running programs, and the filesystem-compression flag (Linux: the inode
//! flag `FS_COMPR_FL`, set e.g. by `chattr +c` on btrfs; Windows:
//! `FILE_ATTRIBUTE_COMPRESSED` of NTFS). Defender exclusions, elevation and
//! MSI installs are read by running Windows' own tools through
//! [`Host::run`] ([`win`]), and are "not applicable" elsewhere.

pub(crate) mod win;

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Whether a directory is compressed by the filesystem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Compression {
    /// The compression flag is set.
    Compressed,
    /// The flag is clear.
    Uncompressed,
    /// The filesystem or OS has no such flag (or it cannot be read there).
    #[cfg_attr(windows, allow(dead_code))] // Windows always has the flag
    NotApplicable(String),
    /// The directory could not be examined.
    Unknown(String),
}

/// What a program printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RunOutput {
    /// Exit status code (`None`: killed or timed out).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// The seam: every OS fact goward's host checks use.
pub(crate) trait Host {
    /// An environment variable of this process (`None` if unset or empty).
    fn env(&self, key: &str) -> Option<String>;
    /// Every `go` executable on `PATH`, in search order (duplicates as they
    /// appear; the caller de-duplicates by [`Host::canonical`]).
    fn go_on_path(&self) -> Vec<PathBuf>;
    /// The resolved path (symlinks followed), or the path itself.
    fn canonical(&self, p: &Path) -> PathBuf;
    /// Runs a program with arguments (inheriting the environment).
    fn run(&self, program: &Path, args: &[&str]) -> Result<RunOutput, String>;
    /// Whether a directory exists.
    fn is_dir(&self, p: &Path) -> bool;
    /// The compression state of a directory.
    fn compression(&self, dir: &Path) -> Compression;
    /// Clears the compression flag of a directory so new files in it are
    /// stored uncompressed.
    fn clear_compression(&self, dir: &Path) -> Result<(), String>;
    /// Whether this is Windows (Defender, the registry and elevation exist).
    fn is_windows(&self) -> bool;
}

/// The real host.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RealHost;

/// How long a `go` subprocess may take.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

impl Host for RealHost {
    fn env(&self, key: &str) -> Option<String> {
        std::env::var(key).ok().filter(|v| !v.is_empty())
    }

    fn go_on_path(&self) -> Vec<PathBuf> {
        let Some(path) = std::env::var_os("PATH") else {
            return Vec::new();
        };
        let exe = format!("go{}", std::env::consts::EXE_SUFFIX);
        std::env::split_paths(&path)
            .filter(|d| !d.as_os_str().is_empty())
            .map(|d| d.join(&exe))
            .filter(|p| is_executable(p))
            .collect()
    }

    fn canonical(&self, p: &Path) -> PathBuf {
        std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
    }

    fn run(&self, program: &Path, args: &[&str]) -> Result<RunOutput, String> {
        use std::io::Read;
        use std::process::{Command, Stdio};
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("running {}: {e}", program.display()))?;
        let mut out = child.stdout.take();
        let mut err = child.stderr.take();
        // Lossy: Windows tools print in the console's code page, and one
        // odd byte must not lose the whole output.
        let t_out = std::thread::spawn(move || {
            let mut b = Vec::new();
            if let Some(o) = out.as_mut() {
                let _ = o.read_to_end(&mut b);
            }
            String::from_utf8_lossy(&b).into_owned()
        });
        let t_err = std::thread::spawn(move || {
            let mut b = Vec::new();
            if let Some(e) = err.as_mut() {
                let _ = e.read_to_end(&mut b);
            }
            String::from_utf8_lossy(&b).into_owned()
        });
        let start = std::time::Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break Some(s),
                Ok(None) if start.elapsed() > RUN_TIMEOUT => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => return Err(format!("waiting for {}: {e}", program.display())),
            }
        };
        Ok(RunOutput {
            code: status.and_then(|s| s.code()),
            stdout: t_out.join().unwrap_or_default(),
            stderr: t_err.join().unwrap_or_default(),
        })
    }

    fn is_dir(&self, p: &Path) -> bool {
        p.is_dir()
    }

    fn compression(&self, dir: &Path) -> Compression {
        os::compression(dir)
    }

    fn clear_compression(&self, dir: &Path) -> Result<(), String> {
        os::clear_compression(dir)
    }

    fn is_windows(&self) -> bool {
        cfg!(windows)
    }
}

fn is_executable(p: &Path) -> bool {
    let Ok(md) = std::fs::metadata(p) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        md.is_file() && md.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        md.is_file()
    }
}

#[cfg(target_os = "linux")]
mod os {
    use super::Compression;
    use rustix::fs::{IFlags, ioctl_getflags, ioctl_setflags};
    use std::path::Path;

    fn open(dir: &Path) -> std::io::Result<std::fs::File> {
        // A directory opens read-only for ioctls.
        std::fs::File::open(dir)
    }

    pub(super) fn compression(dir: &Path) -> Compression {
        let f = match open(dir) {
            Ok(f) => f,
            Err(e) => return Compression::Unknown(format!("{}: {e}", dir.display())),
        };
        match ioctl_getflags(&f) {
            Ok(flags) if flags.contains(IFlags::COMPRESSED) => Compression::Compressed,
            Ok(_) => Compression::Uncompressed,
            // tmpfs, overlayfs and others have no inode flags.
            Err(e)
                if e == rustix::io::Errno::NOTTY
                    || e == rustix::io::Errno::NOTSUP
                    || e == rustix::io::Errno::INVAL =>
            {
                Compression::NotApplicable(format!("the filesystem has no inode flags ({e})"))
            }
            Err(e) => Compression::Unknown(format!("{}: reading inode flags: {e}", dir.display())),
        }
    }

    pub(super) fn clear_compression(dir: &Path) -> Result<(), String> {
        let f = open(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let flags = ioctl_getflags(&f).map_err(|e| format!("reading inode flags: {e}"))?;
        ioctl_setflags(&f, flags - IFlags::COMPRESSED)
            .map_err(|e| format!("clearing the compression flag: {e}"))
    }
}

#[cfg(windows)]
mod os {
    use super::Compression;
    use std::path::Path;

    pub(super) fn compression(dir: &Path) -> Compression {
        use std::os::windows::fs::MetadataExt;
        use windows_sys::Win32::Storage::FileSystem::FILE_ATTRIBUTE_COMPRESSED;
        match std::fs::metadata(dir) {
            Ok(md) if md.file_attributes() & FILE_ATTRIBUTE_COMPRESSED != 0 => {
                Compression::Compressed
            }
            Ok(_) => Compression::Uncompressed,
            Err(e) => Compression::Unknown(format!("{}: {e}", dir.display())),
        }
    }

    pub(super) fn clear_compression(dir: &Path) -> Result<(), String> {
        crate::winffi::set_compression_none(dir)
            .map_err(|e| format!("FSCTL_SET_COMPRESSION on {}: {e}", dir.display()))
    }
}

#[cfg(not(any(target_os = "linux", windows)))]
mod os {
    use super::Compression;
    use std::path::Path;

    pub(super) fn compression(_dir: &Path) -> Compression {
        Compression::NotApplicable("compression is checked on Linux and Windows only".into())
    }

    pub(super) fn clear_compression(_dir: &Path) -> Result<(), String> {
        Err("not supported on this OS".into())
    }
}

/// The command that clears compression for good, for messages.
pub(crate) fn uncompress_command(dir: &Path) -> String {
    if cfg!(windows) {
        format!("compact /U /S:\"{}\" /I /Q", dir.display())
    } else {
        format!("chattr -c -R '{}'", dir.display())
    }
}

/// What the start-up check did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CacheCompression {
    /// Not compressed.
    Fine,
    /// Not applicable here (reason).
    NotApplicable(String),
    /// The directories were compressed; the flag was cleared on them.
    Cleared(Vec<PathBuf>),
}

/// The directories goward owns under its cache root: new files inherit the
/// flag from the directory they are created in.
pub(crate) fn owned_dirs(cache_dir: &Path) -> Vec<PathBuf> {
    let mut v = vec![cache_dir.to_path_buf()];
    for d in crate::cache::disk::OWNED_DIRS {
        v.push(cache_dir.join(d));
    }
    v
}

/// Makes sure goward's cache is not compressed by the filesystem: clears the
/// flag on the directories goward owns; an error says exactly what to run.
pub(crate) fn ensure_cache_uncompressed(
    host: &dyn Host,
    cache_dir: &Path,
) -> Result<CacheCompression, String> {
    let mut cleared = Vec::new();
    let mut na = None;
    for dir in owned_dirs(cache_dir) {
        if !host.is_dir(&dir) {
            continue;
        }
        match host.compression(&dir) {
            Compression::Uncompressed => {}
            Compression::NotApplicable(why) => {
                na.get_or_insert(why);
            }
            Compression::Unknown(why) => {
                tracing::warn!(dir = %dir.display(), "cannot tell whether the cache is compressed: {why}");
            }
            Compression::Compressed => {
                let res =
                    host.clear_compression(&dir)
                        .and_then(|()| match host.compression(&dir) {
                            Compression::Compressed => {
                                Err("the flag is still set after clearing it".into())
                            }
                            _ => Ok(()),
                        });
                if let Err(e) = res {
                    return Err(format!(
                        "cache directory {} is compressed by the filesystem and goward could not change that ({e}); \
                         compressed module caches cause checksum and timeout failures. Run, as the directory's owner or root:\n    {}\n\
                         then start goward again",
                        dir.display(),
                        uncompress_command(cache_dir)
                    ));
                }
                cleared.push(dir);
            }
        }
    }
    if !cleared.is_empty() {
        return Ok(CacheCompression::Cleared(cleared));
    }
    Ok(match na {
        Some(why) => CacheCompression::NotApplicable(why),
        None => CacheCompression::Fine,
    })
}

/// The start-up check, on the real host: clears compression (or refuses,
/// see [`ensure_cache_uncompressed`]) and warns when Defender scans the
/// cache.
pub(crate) fn check_cache_dir(cache_dir: &Path) -> Result<(), String> {
    if let CacheCompression::Cleared(dirs) = ensure_cache_uncompressed(&RealHost, cache_dir)? {
        tracing::warn!(
            dirs = ?dirs,
            "the cache directory was compressed by the filesystem; cleared the flag so new files are stored uncompressed (files already compressed stay so: run `{}` to clear them too)",
            uncompress_command(cache_dir)
        );
    }
    let abs = std::path::absolute(cache_dir).unwrap_or_else(|_| cache_dir.to_path_buf());
    match cache_defender_warning(&RealHost, &abs) {
        Some((true, msg)) => tracing::warn!("{msg}"),
        Some((false, msg)) => tracing::info!("{msg}"),
        None => {}
    }
    Ok(())
}

/// What `serve` says at start about Defender and the cache: `(true, …)` a
/// warning (scanned), `(false, …)` a note (cannot tell); `None`: nothing to
/// say. A warning only: scanning slows goward down but cannot make it serve
/// unverified bytes. `dir` must be absolute, as exclusions are.
pub(crate) fn cache_defender_warning(host: &dyn Host, dir: &Path) -> Option<(bool, String)> {
    match win::defender(host) {
        win::Defender::NotApplicable(_) | win::Defender::RealtimeOff => None,
        win::Defender::Unknown(why) => Some((
            false,
            format!(
                "cannot tell whether Microsoft Defender scans the cache directory {}: {why}",
                dir.display()
            ),
        )),
        win::Defender::Exclusions(x) => match win::excluded_by(dir, &x) {
            Some(_) => None,
            None => Some((
                true,
                format!(
                    "the cache directory {} is not excluded from Microsoft Defender real-time scanning, \
                     which locks and slows cache files (random go command timeouts). Run elevated:\n    {}\n\
                     goward re-checks every blob's digest before serving it and `goward cache verify` re-checks the whole cache, \
                     which is what makes the exclusion safe",
                    dir.display(),
                    win::exclusion_command(dir)
                ),
            )),
        },
    }
}

#[cfg(test)]
pub(crate) mod fake {
    //! A scripted [`Host`] for tests.
    use super::*;
    use std::cell::RefCell;
    use std::collections::{HashMap, HashSet};

    /// Fake facts; every field is what the corresponding method returns.
    #[derive(Debug, Default)]
    pub(crate) struct FakeHost {
        pub(crate) env: HashMap<String, String>,
        pub(crate) go: Vec<PathBuf>,
        pub(crate) links: HashMap<PathBuf, PathBuf>,
        /// Keyed by program path and args joined by spaces.
        pub(crate) runs: HashMap<String, RunOutput>,
        pub(crate) dirs: HashSet<PathBuf>,
        pub(crate) compressed: RefCell<HashSet<PathBuf>>,
        pub(crate) na: bool,
        pub(crate) clear_fails: bool,
        pub(crate) cleared: RefCell<Vec<PathBuf>>,
        pub(crate) windows: bool,
        /// Every `run` call, in order (program and args joined by spaces).
        pub(crate) ran: RefCell<Vec<String>>,
        /// Outputs returned once each, in order, before falling back to
        /// `runs` (a tool that answers differently after a fix).
        pub(crate) queued: RefCell<HashMap<String, Vec<RunOutput>>>,
    }

    impl Host for FakeHost {
        fn env(&self, key: &str) -> Option<String> {
            self.env.get(key).cloned().filter(|v| !v.is_empty())
        }
        fn go_on_path(&self) -> Vec<PathBuf> {
            self.go.clone()
        }
        fn canonical(&self, p: &Path) -> PathBuf {
            self.links
                .get(p)
                .cloned()
                .unwrap_or_else(|| p.to_path_buf())
        }
        fn run(&self, program: &Path, args: &[&str]) -> Result<RunOutput, String> {
            let key = format!("{} {}", program.display(), args.join(" "));
            self.ran.borrow_mut().push(key.clone());
            if let Some(q) = self.queued.borrow_mut().get_mut(&key)
                && !q.is_empty()
            {
                return Ok(q.remove(0));
            }
            self.runs
                .get(&key)
                .cloned()
                .ok_or_else(|| format!("running {key}: not found"))
        }
        fn is_dir(&self, p: &Path) -> bool {
            self.dirs.contains(p)
        }
        fn compression(&self, dir: &Path) -> Compression {
            if self.na {
                Compression::NotApplicable("fake".into())
            } else if self.compressed.borrow().contains(dir) {
                Compression::Compressed
            } else {
                Compression::Uncompressed
            }
        }
        fn clear_compression(&self, dir: &Path) -> Result<(), String> {
            if self.clear_fails {
                return Err("Operation not permitted".into());
            }
            self.compressed.borrow_mut().remove(dir);
            self.cleared.borrow_mut().push(dir.to_path_buf());
            Ok(())
        }
        fn is_windows(&self) -> bool {
            self.windows
        }
    }

    /// `code 0` with this stdout.
    pub(crate) fn ok(stdout: &str) -> RunOutput {
        RunOutput {
            code: Some(0),
            stdout: stdout.into(),
            stderr: String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::FakeHost;
    use super::*;

    fn host_with_cache(root: &Path) -> FakeHost {
        let mut h = FakeHost::default();
        for d in owned_dirs(root) {
            h.dirs.insert(d);
        }
        h
    }

    #[test]
    fn uncompressed_cache_is_fine() {
        let root = Path::new("/var/cache/goward");
        let h = host_with_cache(root);
        assert_eq!(
            ensure_cache_uncompressed(&h, root),
            Ok(CacheCompression::Fine)
        );
        assert!(h.cleared.borrow().is_empty());
    }

    #[test]
    fn compressed_dirs_are_cleared() {
        let root = Path::new("/var/cache/goward");
        let h = host_with_cache(root);
        h.compressed.borrow_mut().insert(root.to_path_buf());
        h.compressed.borrow_mut().insert(root.join("blobs/sha256"));
        let r = ensure_cache_uncompressed(&h, root).unwrap();
        assert_eq!(
            r,
            CacheCompression::Cleared(vec![root.to_path_buf(), root.join("blobs/sha256")])
        );
        assert!(h.compressed.borrow().is_empty());
    }

    #[test]
    fn uncleared_compression_refuses_with_the_command() {
        let root = Path::new("/srv/goward");
        let mut h = host_with_cache(root);
        h.clear_fails = true;
        h.compressed.borrow_mut().insert(root.join("tmp"));
        let e = ensure_cache_uncompressed(&h, root).unwrap_err();
        let tmp = root.join("tmp");
        assert!(
            e.contains(&format!("{} is compressed", tmp.display())),
            "{e}"
        );
        assert!(e.contains("Operation not permitted"), "{e}");
        if !cfg!(windows) {
            assert!(e.contains("chattr -c -R '/srv/goward'"), "{e}");
        }
    }

    #[test]
    fn not_applicable_is_not_an_error() {
        let root = Path::new("/c");
        let mut h = host_with_cache(root);
        h.na = true;
        assert!(matches!(
            ensure_cache_uncompressed(&h, root),
            Ok(CacheCompression::NotApplicable(_))
        ));
    }

    /// The real calls on Windows: a fresh temp dir reads as uncompressed,
    /// and the directory opens for DeviceIoControl, which clears the flag
    /// (NTFS) or answers ERROR_NOT_SUPPORTED (FAT, ReFS, wine).
    #[cfg(windows)]
    #[test]
    fn real_attribute_reads_and_clears_on_windows() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(RealHost.compression(d.path()), Compression::Uncompressed);
        if let Err(e) = RealHost.clear_compression(d.path()) {
            assert!(
                e.starts_with("FSCTL_SET_COMPRESSION on ") && e.ends_with("(os error 50)"),
                "{e}"
            );
        }
        assert_eq!(RealHost.compression(d.path()), Compression::Uncompressed);
        ensure_cache_uncompressed(&RealHost, d.path()).unwrap();
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn real_flag_reads_on_this_filesystem() {
        let d = tempfile::tempdir().unwrap();
        // ext4/xfs/btrfs: a fresh temp dir is not compressed; tmpfs: n/a.
        match RealHost.compression(d.path()) {
            Compression::Uncompressed | Compression::NotApplicable(_) => {}
            other => panic!("{other:?}"),
        }
        ensure_cache_uncompressed(&RealHost, d.path()).unwrap();
    }
}
