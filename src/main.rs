//! The `goward` command line: all of it is in the library's `cli` module,
//! the crate's public surface.

#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    goward::cli::main()
}
