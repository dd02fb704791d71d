//! goward integration tests (one test binary; see `support` for the harness).

mod bundle;
mod cache;
mod e2e_go;
mod fills;
mod fuzz_corpus;
mod hygiene;
mod mirror;
mod offline;
mod policy;
mod request;
mod s3;
mod serve;
mod signature;
mod sumdb;
mod support;
mod tls;
mod toolchain;
mod upstream;
mod verify;
mod zipdiff;
