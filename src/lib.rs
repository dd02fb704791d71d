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
//! client, only the data they check against (each kind decides whether a
//! stored record satisfies its requirement; the policy and the service
//! dispatch); [`cli`], the whole command line, is at the top.

// Denied, not forbidden: the Windows API calls without a safe wrapper live
// in `winffi`, the one module allowed to use `unsafe`.
#![deny(unsafe_code)]

pub mod artifact;
pub mod audit;
pub mod auth;
pub mod bundle;
pub mod cache;
pub mod cli;
pub mod config;
pub mod doctor;
pub mod error;
mod flight;
#[doc(hidden)]
pub mod fuzzing;
pub mod hostcheck;
pub mod hygiene;
pub mod metrics;
pub mod mirror;
pub mod out;
pub mod pipeline;
pub mod policy;
pub mod request;
pub mod server;
pub mod service;
pub mod size;
pub mod status;
pub mod sumdb;
pub mod tls;
pub mod toolchain;
pub mod upstream;
pub mod verify;
#[cfg(windows)]
#[allow(unsafe_code)]
mod winffi;
pub mod winsvc;
pub mod xmod;

/// The module-zip checker behind `goward verify-zip`: public for the
/// differential tests against Go's archive/zip and for the benchmarks.
pub use verify::zip;

/// The storage interface replicas share: public for the tests that plant,
/// tamper with and race objects in a bucket.
pub mod store {
    pub use crate::cache::{DocKey, ObjectStoreCache, Store};
}
