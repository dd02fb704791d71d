//! Standard output of the command line.
//!
//! `println!` panics when stdout is closed (`goward cache gc --dry-run | head -1`:
//! Rust ignores SIGPIPE, so the write fails with `BrokenPipe`). Commands print
//! through [`outln!`](crate::outln) instead, which ends the process quietly
//! with status 0 then, as go tools and ripgrep do: the reader has all it
//! wanted.

use std::io::{self, Write};

/// Writes one line to stdout; see the module doc for a closed stdout. Any
/// other write error ends the process with status 2 and a message, as the
/// command could not deliver its output.
pub(crate) fn line(args: std::fmt::Arguments<'_>) {
    let mut out = io::stdout().lock();
    if let Err(e) = out
        .write_fmt(args)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
    {
        exit_on_write_error(&e);
    }
}

/// Exits for a failed write to stdout: quietly with 0 on `BrokenPipe`, else
/// with 2 and the error.
pub(crate) fn exit_on_write_error(e: &io::Error) -> ! {
    if e.kind() == io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("goward: writing to standard output: {e}");
    std::process::exit(2);
}

/// `println!` for command output: a closed stdout ends the process quietly
/// (see [`crate::out`]).
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::out::line(format_args!($($arg)*))
    };
}
