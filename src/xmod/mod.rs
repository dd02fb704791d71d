//! Ports of golang.org/x/mod's checksum-database packages: signed notes
//! (`sumdb/note`) and the tiled transparency log (`sumdb/tlog`). Pure
//! functions with no I/O, so that verification ([`crate::verify`]) and the
//! checksum-database client ([`crate::sumdb`]) share them without depending
//! on each other.
//!
//! Tile coordinates, record ids and tree sizes arrive from clients and from
//! the database itself, so arithmetic on them must be checked, and nothing
//! here may panic on input.
#![deny(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

pub mod note;
pub mod tlog;
