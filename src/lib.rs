//! goward: a verifying Go module proxy.
//!
//! Data flows one way: [`request`] parses and validates the path →
//! [`service`] looks in the [`cache`] → fetches from the [`upstream`]
//! proxies → runs the [`verify`] stages (module-zip rules, go.mod, `h1:`
//! hashes, a checksum-database proof from [`sumdb`]) → stores → serves
//! through [`server`]. Only [`service`] sequences the stages, and only
//! [`pipeline`] wires them together (online, or offline with no HTTP client
//! at all) for `serve`, `verify-toolchain`, `mirror` and every other command.
//!
//! Fail-closed by construction: each verification stage returns a proof
//! token that only it can construct, and [`cache::Store`] accepts nothing
//! but [`verify::VerifiedZip`] / [`verify::VerifiedMod`], which can only be
//! assembled from those tokens. On the way out, a blob is opened only with a
//! [`cache::StoredArtifact`], which the cache hands out only for a record it
//! re-checked (or just wrote), and read through its verifying read.
//!
//! The modules form no cycle (outside tests): [`xmod`], the Go ports
//! (module paths, semver, dirhash, signed notes, the tiled log), is at the
//! bottom; [`artifact`], the shared vocabulary (artifact kind, validated
//! module path and version, digests), is the leaf right above it, depending
//! on nothing else, so every stage names artifacts in the same types; proof
//! kinds in [`verify`] see neither the policy nor the checksum-database
//! client, only the data they check against (each kind owns its policy
//! requirement, pin files included, and decides whether a stored record
//! satisfies it; the policy and the service dispatch); [`cli`], the whole
//! command line, is at the top.
//!
//! The public surface is deliberate and small: [`cli`] (what `main.rs`
//! runs), [`xmod`] (the Go ports, for the differential tests and the
//! benchmarks), [`zip`] and [`store`] (for the integration tests), and the
//! hidden `fuzzing` entry points. Every other module is private and its
//! items `pub(crate)` (`unreachable_pub` warns in `Cargo.toml`).

// Denied, not forbidden: the Windows API calls without a safe wrapper live
// in `winffi`, the one module allowed to use `unsafe`.
#![deny(unsafe_code)]
// The crate's documentation is its internals (`cargo doc
// --document-private-items`): links to private items are the point.
#![allow(rustdoc::private_intra_doc_links)]

mod artifact;
mod audit;
mod auth;
mod bundle;
mod cache;
pub mod cli;
mod config;
mod doctor;
mod error;
mod flight;
#[doc(hidden)]
pub mod fuzzing;
mod hostcheck;
mod hygiene;
mod metrics;
mod mirror;
mod out;
mod pipeline;
mod policy;
mod request;
mod server;
mod service;
mod size;
mod status;
mod sumdb;
mod tls;
mod toolchain;
mod upstream;
mod verify;
#[cfg(windows)]
#[allow(unsafe_code)]
mod winffi;
mod winsvc;
pub mod xmod;

/// The module-zip checker behind `goward verify-zip`: public for the
/// differential tests against Go's archive/zip and for the benchmarks.
pub use verify::zip;

/// The storage interface replicas share: public for the tests that plant,
/// tamper with and race objects in a bucket.
pub mod store {
    pub use crate::cache::{DocKey, ObjectStoreCache, Store};
}
