//! The Go ports, together: golang.org/x/mod's module paths and versions
//! (with pseudo-versions and Go's quoting), semantic versions, the `h1:`
//! directory hash, signed notes and the tiled transparency log. Pure
//! functions with no I/O at the bottom of the crate, so every stage shares
//! them without depending on another. Each file names the x/mod version and
//! file it follows, and the differential tests hold it to Go's behaviour.
//!
//! Tile coordinates, record ids and tree sizes arrive from clients and from
//! the database itself, so arithmetic on them must be checked, and nothing
//! in `note` and `tlog` may panic on input.

pub mod dirhash;
pub mod module;
pub mod semver;

#[deny(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]
pub mod note;
#[deny(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]
pub mod tlog;
